package sandbox

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
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

// BenchmarkVerifySignature is the cost verification adds to each request, against the cost of
// serving the whole request: a signed ListAccessKeys of an assumed-role session, as a scanner
// sends it. Both report cpu-ns/op (process CPU time, which the machine's other load does not
// inflate as it does wall time).
func BenchmarkVerifySignature(b *testing.B) {
	s, err := New(Options{Fixture: Generate(GenerateOptions{Accounts: 2, Users: 1, Seed: 1})})
	if err != nil {
		b.Fatal(err)
	}
	mgmtKey, mgmtSecret := s.ManagementCredentials()
	w := httptest.NewRecorder()
	s.ServeHTTP(w, queryRequest(mgmtKey, mgmtSecret, "", "sts", "Action=AssumeRole&Version=2011-06-15&RoleSessionName=bench&RoleArn=arn:aws:iam::"+s.AccountIDs()[0]+":role/KeyageAuditRole"))
	key, secret, token := between(w.Body.String(), "<AccessKeyId>", "<"), between(w.Body.String(), "<SecretAccessKey>", "<"), between(w.Body.String(), "<SessionToken>", "<")
	body := "Action=ListAccessKeys&Version=2010-05-08&UserName=" + s.accountList[0].users[0].name
	signed := func() *http.Request {
		r := queryRequest(key, secret, token, "iam", body)
		r.Header.Set("Amz-Sdk-Invocation-Id", "6d1c4b8e-5a4f-4a53-9a53-4c1a5f1c2b3d")
		r.Header.Set("User-Agent", "aws-sdk-go-v2/1.36.3 os/linux lang/go#1.24 md/GOOS#linux md/GOARCH#amd64 api/iam#1.41.0")
		return r
	}
	b.Run("verify", func(b *testing.B) {
		r := signed()
		b.ReportAllocs()
		start := cpuTime()
		for b.Loop() {
			if msg := s.verifySignature(r, []byte(body), secret, time.Now()); msg != "" {
				b.Fatal(msg)
			}
		}
		b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
	b.Run("serve", func(b *testing.B) {
		b.ReportAllocs()
		start := cpuTime()
		for b.Loop() {
			w := httptest.NewRecorder()
			s.ServeHTTP(w, signed())
			if w.Code != http.StatusOK {
				b.Fatal(w.Body.String())
			}
		}
		b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
	})
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	return s[:strings.Index(s, end)]
}
