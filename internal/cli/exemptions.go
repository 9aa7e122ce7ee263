package cli

import (
	"log/slog"
	"time"

	"github.com/keyage/keyage/internal/config"
)

// warnExpiredExemptions logs each config exemption whose until has passed:
// it exempts nobody any more, which its author should hear rather than
// find out from an enforcement.
func warnExpiredExemptions(log *slog.Logger, cfg *config.Config, now time.Time) {
	if log == nil {
		return
	}
	for _, e := range cfg.ExpiredExemptions(now) {
		log.Warn("exemption expired; it no longer applies", "at", e.At, "user", e.Who(), "until", e.Until, "reason", e.Reason)
	}
}
