package sandbox

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkServe measures the handler alone (no network, no SDK): ListUsers of 100 users and
// ListAccessKeys, from many goroutines over 1,000 accounts.
func BenchmarkServe(b *testing.B) {
	s, err := New(Options{Fixture: Generate(GenerateOptions{Accounts: 1000, Users: 100, Seed: 1})})
	if err != nil {
		b.Fatal(err)
	}
	ids := s.AccountIDs()
	// One role session per account, made through the handler like a scanner would.
	keys := make([]string, len(ids))
	secrets := make([]string, len(ids))
	tokens := make([]string, len(ids))
	mgmtKey, mgmtSecret := s.ManagementCredentials()
	for i, id := range ids {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, queryRequest(mgmtKey, mgmtSecret, "", "sts", "Action=AssumeRole&Version=2011-06-15&RoleSessionName=bench&RoleArn=arn:aws:iam::"+id+":role/KeyageAuditRole"))
		body := w.Body.String()
		keys[i], secrets[i], tokens[i] = between(body, "<AccessKeyId>", "<"), between(body, "<SecretAccessKey>", "<"), between(body, "<SessionToken>", "<")
	}
	for _, bm := range []struct{ name, body string }{
		{"ListUsers", "Action=ListUsers&Version=2010-05-08"},
		{"ListAccessKeys", "Action=ListAccessKeys&Version=2010-05-08&UserName=svc-deploy-0"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			var n atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := int(n.Add(1)) % len(ids)
					if keys[i] == "" {
						continue // the account without the audit role
					}
					w := httptest.NewRecorder()
					s.ServeHTTP(w, queryRequest(keys[i], secrets[i], tokens[i], "iam", bm.body))
				}
			})
		})
	}
}

// queryRequest is a SigV4-signed awsQuery request.
func queryRequest(key, secret, token, service, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	signV4(r, []byte(body), key, secret, token, "us-east-1", service, time.Now())
	return r
}

// BenchmarkVerifySignature is the cost verification adds to each request: a signed
// ListAccessKeys of an assumed-role session, as a scanner sends it.
func BenchmarkVerifySignature(b *testing.B) {
	s, err := New(Options{Fixture: Generate(GenerateOptions{Accounts: 2, Users: 1, Seed: 1})})
	if err != nil {
		b.Fatal(err)
	}
	mgmtKey, mgmtSecret := s.ManagementCredentials()
	body := "Action=ListAccessKeys&Version=2010-05-08&UserName=svc-deploy-0"
	r := queryRequest(mgmtKey, mgmtSecret, "", "iam", body)
	r.Header.Set("Amz-Sdk-Invocation-Id", "6d1c4b8e-5a4f-4a53-9a53-4c1a5f1c2b3d")
	r.Header.Set("User-Agent", "aws-sdk-go-v2/1.36.3 os/linux lang/go#1.24 md/GOOS#linux md/GOARCH#amd64 api/iam#1.41.0")
	b.ReportAllocs()
	for b.Loop() {
		if msg := s.verifySignature(r, []byte(body), mgmtSecret, time.Now()); msg != "" {
			b.Fatal(msg)
		}
	}
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	return s[:strings.Index(s, end)]
}
