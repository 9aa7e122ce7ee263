package server

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyage/keyage/internal/store"
)

func TestTrendAxisLabels(t *testing.T) {
	at := time.Date(2026, 11, 24, 11, 49, 22, 0, time.UTC)
	for _, tt := range []struct {
		name string
		span time.Duration
		want []string
	}{
		// Right after the first scan (the demo): seconds, each label once.
		{"a minute", time.Minute, []string{"11:49:22", "11:49:37", "11:49:52", "11:50:07", "11:50:22"}},
		{"a day", 24 * time.Hour, []string{"Nov 24 11:49", "Nov 24 17:49", "Nov 24 23:49", "Nov 25 05:49", "Nov 25 11:49"}},
		{"90 days", 90 * 24 * time.Hour, []string{"Nov 24", "Dec 16", "Jan 8", "Jan 30", "Feb 22"}},
		// Labels that would repeat are drawn once.
		{"a second", time.Second, []string{"11:49:22", "11:49:23"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			svg := string(trendSVG([]store.TrendPoint{{At: at, NonCompliant: 110}, {At: at.Add(tt.span), NonCompliant: 110}}))
			var got []string
			for _, m := range regexp.MustCompile(`<text class="axis" x="[^"]*" y="`+strconv.Itoa(chartH-8)+`" text-anchor="[a-z]+">([^<]*)</text>`).FindAllStringSubmatch(svg, -1) {
				got = append(got, m[1])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("x labels = %q, want %q", got, tt.want)
			}
			if !strings.Contains(svg, "from 110 to 110") {
				t.Errorf("aria label lacks the counts: %s", svg)
			}
		})
	}
}

func TestTrendNeedsTwoPoints(t *testing.T) {
	if got := string(trendSVG(nil)); !strings.Contains(got, "No history yet") || strings.Contains(got, "<svg") {
		t.Errorf("trendSVG(nil) = %q, want the no-history note", got)
	}
}
