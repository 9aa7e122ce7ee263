package sandbox

import (
	"sync"
	"sync/atomic"
	"time"
)

// Stats counts the requests that reached an API: every request naming a known operation of a
// known service, including the ones answered with an injected throttle or failure and the ones
// whose credentials were refused.
type Stats struct {
	Total int64 `json:"total"`
	// ByAPI maps "service:Operation" (iam:ListUsers) to a count.
	ByAPI map[string]int64 `json:"byApi"`
	// ByAccount maps the calling account id to its counts per API. Requests with unknown
	// credentials have no account and are counted in Total and ByAPI only.
	ByAccount map[string]map[string]int64 `json:"byAccount"`
}

// statsCounter is lock-free on the hot path: one atomic per API, found in a sync.Map that only
// grows, and per-account maps under each account's own mutex.
type statsCounter struct {
	total atomic.Int64
	byAPI sync.Map // string -> *atomic.Int64
	// busy and nServed make the ServiceTime.
	busy, nServed atomic.Int64
}

// ServiceTime is how long the sandbox spent serving API requests: the time
// each request held its slot with Options.MaxInflight (latency included,
// waiting for a slot not), or its handler's time without a bound. With
// MaxInflight 1, Busy is the floor of any client's wall time for those
// calls: the sandbox served nothing else meanwhile.
type ServiceTime struct {
	// Busy is the sum of the requests' service times.
	Busy time.Duration
	// Served counts the API requests served, /_sandbox/ requests not included.
	Served int64
}

// serviceTimeJSON is ServiceTime in GET /_sandbox/stats, under "service".
type serviceTimeJSON struct {
	BusySeconds float64 `json:"busySeconds"`
	Served      int64   `json:"served"`
}

// statsJSON is what GET /_sandbox/stats answers.
type statsJSON struct {
	Stats
	Service serviceTimeJSON `json:"service"`
}

// served adds one request begun at start to the service time.
func (c *statsCounter) served(start time.Time) {
	c.busy.Add(int64(time.Since(start)))
	c.nServed.Add(1)
}

// ServiceTime returns the service time since New or the last ResetStats.
func (s *Server) ServiceTime() ServiceTime {
	return ServiceTime{Busy: time.Duration(s.stats.busy.Load()), Served: s.stats.nServed.Load()}
}

type accountStats struct {
	mu    sync.Mutex
	byAPI map[string]int64
}

func newAccountStats() *accountStats { return &accountStats{byAPI: map[string]int64{}} }

func (c *statsCounter) count(api string, a *account) {
	c.total.Add(1)
	v, ok := c.byAPI.Load(api)
	if !ok {
		v, _ = c.byAPI.LoadOrStore(api, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(1)
	if a != nil {
		a.stats.mu.Lock()
		a.stats.byAPI[api]++
		a.stats.mu.Unlock()
	}
}

// Stats returns a snapshot of the request counts.
func (s *Server) Stats() Stats {
	st := Stats{Total: s.stats.total.Load(), ByAPI: map[string]int64{}, ByAccount: map[string]map[string]int64{}}
	s.stats.byAPI.Range(func(k, v any) bool {
		if n := v.(*atomic.Int64).Load(); n > 0 {
			st.ByAPI[k.(string)] = n
		}
		return true
	})
	for _, a := range s.accountList {
		a.stats.mu.Lock()
		if len(a.stats.byAPI) > 0 {
			m := make(map[string]int64, len(a.stats.byAPI))
			for k, v := range a.stats.byAPI {
				m[k] = v
			}
			st.ByAccount[a.id] = m
		}
		a.stats.mu.Unlock()
	}
	return st
}

// ResetStats sets every count, and the service time, to zero.
func (s *Server) ResetStats() {
	s.stats.total.Store(0)
	s.stats.busy.Store(0)
	s.stats.nServed.Store(0)
	s.stats.byAPI.Range(func(_, v any) bool {
		v.(*atomic.Int64).Store(0)
		return true
	})
	for _, a := range s.accountList {
		a.stats.mu.Lock()
		clear(a.stats.byAPI)
		a.stats.mu.Unlock()
	}
}
