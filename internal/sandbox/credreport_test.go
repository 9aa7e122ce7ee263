package sandbox

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// report generates (until COMPLETE) and parses the credential report of a client's account.
func report(t *testing.T, client *iam.Client) (states []types.ReportStateType, rows []map[string]string, generated time.Time) {
	t.Helper()
	ctx := context.Background()
	for range 5 {
		out, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, out.State)
		if out.State == types.ReportStateTypeComplete {
			break
		}
	}
	got, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ReportFormat != types.ReportFormatTypeTextCsv {
		t.Errorf("ReportFormat %q, want text/csv", got.ReportFormat)
	}
	records, err := csv.NewReader(bytes.NewReader(got.Content)).ReadAll()
	if err != nil {
		t.Fatalf("parse credential report: %v", err)
	}
	if strings.Join(records[0], ",") != strings.Join(reportHeader, ",") {
		t.Errorf("header %v, want %v", records[0], reportHeader)
	}
	for _, r := range records[1:] {
		m := map[string]string{}
		for i, h := range records[0] {
			m[h] = r[i]
		}
		rows = append(rows, m)
	}
	return states, rows, *got.GeneratedTime
}

func TestCredentialReport(t *testing.T) {
	ts := newTestSandbox(t, Options{})
	ctx := context.Background()
	client := ts.iam(t, "222222222222")
	start := ts.clock.Now()
	at := func(d time.Duration) string { return start.Add(-d).Format("2006-01-02T15:04:05+00:00") }

	_, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if code, _ := apiErr(t, err); code != "ReportNotPresent" {
		t.Errorf("GetCredentialReport before generation: %s, want ReportNotPresent", code)
	}

	states, rows, generated := report(t, client)
	diff(t, "states", states, []types.ReportStateType{types.ReportStateTypeStarted, types.ReportStateTypeComplete})
	if !generated.Equal(start) {
		t.Errorf("GeneratedTime %v, want %v", generated, start)
	}
	if len(rows) != 4 {
		t.Fatalf("report has %d rows, want root + 3 users", len(rows))
	}
	root, alice, bob := rows[0], rows[1], rows[2]
	diff(t, "root row", pick(root, "user", "arn", "password_enabled", "access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date", "access_key_2_active"),
		[]string{"<root_account>", "arn:aws:iam::222222222222:root", "not_supported", "true", at(400 * day), "N/A", "false"})
	diff(t, "alice row", pick(alice, "user", "arn", "password_enabled", "access_key_1_active", "access_key_1_last_rotated",
		"access_key_1_last_used_date", "access_key_1_last_used_region", "access_key_1_last_used_service",
		"access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date", "cert_1_active"),
		// Key 1 is the older key: the inactive one created on 2026-01-05.
		[]string{"alice", "arn:aws:iam::222222222222:user/engineering/alice", "false", "false", "2026-01-05T10:00:00+00:00",
			"N/A", "N/A", "N/A",
			"true", at(120 * day), at(2 * day), "false"})
	diff(t, "bob row", pick(bob, "user", "access_key_1_active", "access_key_1_last_rotated", "access_key_2_active"),
		[]string{"bob", "false", "N/A", "false"})

	t.Run("stale report is reused after a key rotation", func(t *testing.T) {
		created, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
		if err != nil {
			t.Fatal(err)
		}
		ts.clock.Advance(time.Hour)
		client := ts.iam(t, "222222222222") // the role session expired with the clock
		states, rows, _ := report(t, client)
		diff(t, "states", states, []types.ReportStateType{types.ReportStateTypeComplete})
		if rows[2]["access_key_1_active"] != "false" {
			t.Errorf("report younger than 4h shows bob's new key %s; want the old snapshot", *created.AccessKey.AccessKeyId)
		}
		ts.clock.Advance(3 * time.Hour)
		client = ts.iam(t, "222222222222")
		_, err = client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
		if code, _ := apiErr(t, err); code != "ReportExpired" {
			t.Errorf("GetCredentialReport of a 4h-old report: %s, want ReportExpired", code)
		}
		states, rows, _ = report(t, client)
		diff(t, "states", states, []types.ReportStateType{types.ReportStateTypeStarted, types.ReportStateTypeComplete})
		if rows[2]["access_key_1_active"] != "true" {
			t.Errorf("new report: bob access_key_1_active = %s, want true", rows[2]["access_key_1_active"])
		}
	})
}

func TestCredentialReportDelay(t *testing.T) {
	ts := newTestSandbox(t, Options{ReportDelay: time.Minute})
	ctx := context.Background()
	client := ts.iam(t, "111111111111")
	var states []types.ReportStateType
	for range 2 {
		out, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, out.State)
	}
	_, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if code, _ := apiErr(t, err); code != "ReportInProgress" {
		t.Errorf("GetCredentialReport while generating: %s, want ReportInProgress", code)
	}
	ts.clock.Advance(time.Minute)
	states2, rows, _ := report(t, client)
	diff(t, "states", append(states, states2...), []types.ReportStateType{types.ReportStateTypeStarted, types.ReportStateTypeInprogress, types.ReportStateTypeComplete})
	// The hidden admin of the management credentials is not in the report.
	var users []string
	for _, r := range rows {
		users = append(users, r["user"])
	}
	diff(t, "users", users, []string{"<root_account>", "admin.ops"})
}

func TestSetCredentialReport(t *testing.T) {
	ts := newTestSandbox(t, Options{})
	client := ts.iam(t, "222222222222")
	corrupt := "user,arn,user_creation\nalice,arn:aws:iam::222222222222:user/alice\n"

	req, err := http.NewRequest(http.MethodPut, ts.url+"/_sandbox/accounts/222222222222/credential-report", strings.NewReader(corrupt))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT credential-report: %s", resp.Status)
	}
	out, err := client.GenerateCredentialReport(context.Background(), &iam.GenerateCredentialReportInput{})
	if err != nil {
		t.Fatal(err)
	}
	if out.State != types.ReportStateTypeComplete {
		t.Errorf("GenerateCredentialReport after PUT = %s, want COMPLETE", out.State)
	}
	got, err := client.GetCredentialReport(context.Background(), &iam.GetCredentialReportInput{})
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Content) != corrupt {
		t.Errorf("report = %q, want the CSV that was put", got.Content)
	}
	if err := ts.SetCredentialReport("999999999999", nil); err == nil {
		t.Error("SetCredentialReport(unknown account) = nil, want an error")
	}
}

func pick(m map[string]string, keys ...string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}
