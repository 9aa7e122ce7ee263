package sandbox

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
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
	tokens := make([]string, len(ids))
	mgmtKey, _ := s.ManagementCredentials()
	for i, id := range ids {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, queryRequest(mgmtKey, "", "sts", "Action=AssumeRole&Version=2011-06-15&RoleSessionName=bench&RoleArn=arn:aws:iam::"+id+":role/KeyageAuditRole"))
		body := w.Body.String()
		keys[i], tokens[i] = between(body, "<AccessKeyId>", "<"), between(body, "<SessionToken>", "<")
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
					s.ServeHTTP(w, queryRequest(keys[i], tokens[i], "iam", bm.body))
				}
			})
		})
	}
}

func queryRequest(key, token, service, body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+key+"/20261124/us-east-1/"+service+"/aws4_request, SignedHeaders=host, Signature=0")
	if token != "" {
		r.Header.Set("X-Amz-Security-Token", token)
	}
	return r
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	return s[:strings.Index(s, end)]
}
