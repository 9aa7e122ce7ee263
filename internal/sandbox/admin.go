package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
)

// The admin API under /_sandbox/ is for tests and demos; it needs no credentials.
//
//	GET    /_sandbox/stats                              request counts (Stats as JSON) and, under
//	                                                    "service", the ServiceTime {"busySeconds", "served"}
//	DELETE /_sandbox/stats                              reset the counts and the service time
//	PUT    /_sandbox/accounts/{id}/credential-report    replace an account's report with the CSV body
//	GET    /_sandbox/info                               management account id and credentials
//	GET    /_sandbox/healthz                            "ok"
//	GET    /_sandbox/sns/published                      messages published to SNS, oldest first
//	GET    /_sandbox/lambda/invocations                 Lambda invocations, oldest first
//	GET    /_sandbox/ses/emails                         emails sent with SES, oldest first
//	GET    /_sandbox/accounts/{id}/securityhub/findings  Security Hub findings of an account, by Id
//	DELETE /_sandbox/records                            forget published messages, invocations, emails
//	PUT    /_sandbox/accounts/{id}/lambda/functions/{name}  create a function; body {"fail": true} optional
func (s *Server) adminMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sandbox/stats", func(w http.ResponseWriter, r *http.Request) {
		st := s.ServiceTime()
		writeJSON(w, http.StatusOK, statsJSON{Stats: s.Stats(), Service: serviceTimeJSON{BusySeconds: st.Busy.Seconds(), Served: st.Served}})
	})
	mux.HandleFunc("DELETE /_sandbox/stats", func(w http.ResponseWriter, r *http.Request) {
		s.ResetStats()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /_sandbox/accounts/{id}/credential-report", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<20))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "read body: " + err.Error()})
			return
		}
		if err := s.SetCredentialReport(r.PathValue("id"), body); err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sandbox/info", func(w http.ResponseWriter, r *http.Request) {
		id, secret := s.ManagementCredentials()
		writeJSON(w, http.StatusOK, map[string]any{
			"managementAccountId": s.mgmtID,
			"accessKeyId":         id,
			"secretAccessKey":     secret,
			"accounts":            len(s.accountList),
			"startTime":           s.start,
		})
	})
	mux.HandleFunc("GET /_sandbox/sns/published", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Published())
	})
	mux.HandleFunc("GET /_sandbox/lambda/invocations", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Invocations())
	})
	mux.HandleFunc("GET /_sandbox/ses/emails", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Emails())
	})
	mux.HandleFunc("GET /_sandbox/accounts/{id}/securityhub/findings", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.SecurityHubFindings(r.PathValue("id")))
	})
	mux.HandleFunc("DELETE /_sandbox/records", func(w http.ResponseWriter, r *http.Request) {
		s.ResetRecords()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /_sandbox/accounts/{id}/lambda/functions/{name}", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Fail bool `json:"fail"`
		}
		if body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20)); len(body) > 0 {
			if err := json.Unmarshal(body, &in); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "decode body: " + err.Error()})
				return
			}
		}
		if err := s.PutFunction(r.PathValue("id"), r.PathValue("name"), in.Fail); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /_sandbox/events-queue", s.adminEventsQueue)
	mux.HandleFunc("GET /_sandbox/healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/_sandbox/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no sandbox admin endpoint " + r.Method + " " + r.URL.Path})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
