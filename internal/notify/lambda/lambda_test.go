package lambda

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/notifytest"
)

type invocation struct {
	path, query, invocationType, region string
	payload                             notify.Payload
}

// fakeLambda answers Invoke (REST: POST
// /2015-03-31/functions/{name}/invocations) like Lambda: 202 for Event,
// 200 with the function's result for RequestResponse, X-Amz-Function-Error
// when the function failed, typed errors otherwise.
func fakeLambda(t *testing.T, functionError string, status int, errType string) (*httptest.Server, *[]invocation) {
	var got []invocation
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/2015-03-31/functions/") || !strings.HasSuffix(r.URL.Path, "/invocations") {
			t.Errorf("request %s %s, want POST /2015-03-31/functions/{name}/invocations", r.Method, r.URL.Path)
		}
		body, _ := io.ReadAll(r.Body)
		inv := invocation{path: r.URL.EscapedPath(), query: r.URL.RawQuery, invocationType: r.Header.Get("X-Amz-Invocation-Type")}
		if err := json.Unmarshal(body, &inv.payload); err != nil {
			t.Errorf("payload %s: %v", body, err)
		}
		inv.region = notifytest.SignedRegion(r)
		got = append(got, inv)
		if status != 0 {
			w.Header().Set("X-Amzn-ErrorType", errType)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"Type":"User","message":"%s"}`, errType)
			return
		}
		if inv.invocationType == "Event" {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		if functionError != "" {
			w.Header().Set("X-Amz-Function-Error", functionError)
			io.WriteString(w, `{"errorType":"ValueError","errorMessage":"ticket system rejected key AKIAALICEEXAMPLE0001","stackTrace":["  File \"/var/task/handler.py\", line 9"]}`)
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestInvoke(t *testing.T) {
	for _, tt := range []struct {
		name     string
		opts     Options
		wantPath string
		wantType string
		query    string
		region   string
	}{
		{"event by default", Options{FunctionName: "keyage-notify"}, "/2015-03-31/functions/keyage-notify/invocations", "Event", "", "us-east-1"},
		{"request response with alias", Options{FunctionName: "keyage-notify", Qualifier: "live", InvocationType: RequestResponse}, "/2015-03-31/functions/keyage-notify/invocations", "RequestResponse", "Qualifier=live", "us-east-1"},
		{"ARN in another region", Options{FunctionName: "arn:aws:lambda:ap-southeast-2:111111111111:function:keyage-notify"}, "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aap-southeast-2%3A111111111111%3Afunction%3Akeyage-notify/invocations", "Event", "", "ap-southeast-2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := fakeLambda(t, "", 0, "")
			tt.opts.Config = notifytest.AWSConfig(srv.URL)
			n := notifytest.New(t, New, tt.opts)
			m := notifytest.Message()
			notifytest.Deliver(t, n, m)
			inv := (*got)[0]
			if inv.path != tt.wantPath || inv.invocationType != tt.wantType || inv.query != tt.query || inv.region != tt.region {
				t.Errorf("invocation %s?%s type %q region %q, want %s?%s type %q region %q", inv.path, inv.query, inv.invocationType, inv.region, tt.wantPath, tt.query, tt.wantType, tt.region)
			}
			if diff := cmp.Diff(notify.NewPayload(m), inv.payload); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFunctionErrorIsFinal(t *testing.T) {
	srv, _ := fakeLambda(t, "Unhandled", 0, "")
	n := notifytest.New(t, New, Options{Config: notifytest.AWSConfig(srv.URL), FunctionName: "keyage-notify", InvocationType: RequestResponse})
	retry, err := n.Notify(context.Background(), notifytest.Message())
	want := "lambda keyage-notify failed on message msg-0001 (Unhandled): ValueError: ticket system rejected key AKIAALICEEXAMPLE0001"
	if err == nil || retry || err.Error() != want {
		t.Errorf("Notify = %v, %v, want false, %q", retry, err, want)
	}
}

func TestInvokeErrors(t *testing.T) {
	for _, tt := range []struct {
		status    int
		errType   string
		wantRetry bool
	}{
		{404, "ResourceNotFoundException", false},
		{403, "AccessDeniedException", false},
		{413, "RequestTooLargeException", false},
		{429, "TooManyRequestsException", true},
		{500, "ServiceException", true},
		{502, "EC2ThrottledException", true},
	} {
		t.Run(tt.errType, func(t *testing.T) {
			srv, _ := fakeLambda(t, "", tt.status, tt.errType)
			n := notifytest.New(t, New, Options{Config: notifytest.AWSConfig(srv.URL), FunctionName: "keyage-notify"})
			notifytest.Refused(t, n, tt.wantRetry, tt.errType)
		})
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "functionName: required") {
		t.Errorf("New(no function) = %v", err)
	}
	if _, err := New(Options{FunctionName: "f", InvocationType: "DryRun"}); err == nil || !strings.Contains(err.Error(), "invocationType") {
		t.Errorf("New(DryRun) = %v", err)
	}
}
