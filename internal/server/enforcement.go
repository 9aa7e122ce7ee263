package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/report"
	"github.com/keyage/keyage/internal/store"
)

// defaultWindow is the window of the enforcement page and the report when
// the query gives no since.
const defaultWindow = 90 * 24 * time.Hour

// maxListed caps the actions an enforcement page or response lists.
const maxListed = 500

// window parses the since query parameter (90d, 2w, 720h), default 90 days.
func window(r *http.Request) (time.Duration, error) {
	v := strings.TrimSpace(r.URL.Query().Get("since"))
	if v == "" {
		return defaultWindow, nil
	}
	d, err := config.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, badRequest("since %q: want a positive duration such as 90d, 2w or 720h", v)
	}
	return time.Duration(d), nil
}

// enforcementData is the enforcement page and /api/v1/enforcement: the
// counts by outcome, the planned deactivations and the actions (every
// action of one key, oldest first, when the query names a key).
type enforcementData struct {
	report.Enforcement
	Since     string    `json:"since"`
	From      time.Time `json:"from"`
	AccountID string    `json:"accountId,omitempty"`
	KeyID     string    `json:"accessKeyId,omitempty"`
	// Trail is set when the query names a key: its audit trail.
	Trail []store.AuditRecord `json:"trail,omitempty"`
}

func (s *Server) enforcementView(r *http.Request) (enforcementData, error) {
	since, err := window(r)
	if err != nil {
		return enforcementData{}, err
	}
	from := s.opts.Now().Add(-since)
	e, err := report.Enforce(r.Context(), s.opts.Store, from, maxListed)
	if err != nil {
		return enforcementData{}, err
	}
	q := r.URL.Query()
	d := enforcementData{Enforcement: e, From: from.UTC(), AccountID: strings.TrimSpace(q.Get("account")), KeyID: strings.TrimSpace(q.Get("key"))}
	if d.Since = q.Get("since"); d.Since == "" {
		d.Since = "90d"
	}
	if d.KeyID != "" {
		if d.Trail, err = s.opts.Store.AuditRecords(r.Context(), d.AccountID, d.KeyID); err != nil {
			return d, err
		}
		if d.Trail == nil {
			d.Trail = []store.AuditRecord{}
		}
	}
	if d.Actions == nil {
		d.Actions = []store.AuditRecord{}
	}
	return d, nil
}

type exemptionsData struct {
	Exemptions []report.Exemption `json:"exemptions"`
	// ExpiringSoon counts the exemptions that end within 30 days.
	ExpiringSoon int `json:"expiringSoon"`
}

func (s *Server) exemptionsView(r *http.Request) (exemptionsData, error) {
	ex, err := report.Exemptions(r.Context(), s.opts.Store, s.opts.Now())
	d := exemptionsData{Exemptions: ex}
	for _, e := range ex {
		if e.DaysLeft <= 30 {
			d.ExpiringSoon++
		}
	}
	return d, err
}

// buildReport is the audit report over the query's window.
func (s *Server) buildReport(r *http.Request) (*report.Report, error) {
	since, err := window(r)
	if err != nil {
		return nil, err
	}
	return report.Build(r.Context(), s.opts.Store, report.Options{Now: s.opts.Now(), Since: since,
		MaxAge: time.Duration(s.opts.MaxAccessKeyAge) * 24 * time.Hour, Config: s.opts.Config})
}

// reportPage serves the audit report as `keyage report` writes it, under
// the report's own strict CSP.
func (s *Server) reportPage(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.buildReport(r)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := rep.WriteHTML(&b); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Security-Policy", report.CSP+"; frame-ancestors 'none'")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if r.URL.Query().Get("download") == "1" {
		h.Set("Content-Disposition", `attachment; filename="keyage-report-`+rep.Generated.Format("20060102")+`.html"`)
	}
	_, err = w.Write(b.Bytes())
	return err
}

// reportJSON serves /api/v1/report, the report as `keyage report --format
// json` has it, written in one pass: not indented like the other routes,
// as the document holds up to 4,000 rows and indenting was a second pass
// over all of its bytes.
func (s *Server) reportJSON(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.buildReport(r)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(rep); err != nil {
		return fmt.Errorf("encode the report: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_, err = w.Write(b.Bytes())
	return err
}

// viewPage serves a dashboard page from its view.
func viewPage[T any](s *Server, name, title string, view func(*http.Request) (T, error)) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		d, err := view(r)
		if err != nil {
			return err
		}
		s.renderPage(w, r, http.StatusOK, name, page{Title: title, Data: d})
		return nil
	}
}

// viewJSON serves a view as the API's JSON.
func viewJSON[T any](view func(*http.Request) (T, error)) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		d, err := view(r)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, d)
		return nil
	}
}
