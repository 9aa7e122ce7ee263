// Package inventory reads an account's IAM users and access keys from one of
// two sources, the IAM API or the credential report, or from both (auto: the
// report, then real-time ListAccessKeys for the users it flags). It holds no
// policy of its own beyond asking the rule which users to look at.
package inventory

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/rule"
)

// Source names where key data comes from (the config's scan.source).
type Source = config.Source

// The sources.
const (
	SourceAuto             = config.SourceAuto
	SourceAPI              = config.SourceAPI
	SourceCredentialReport = config.SourceCredentialReport
)

// Options tunes one account's collection.
type Options struct {
	Source Source
	// Policy and Now decide which users auto re-reads in real time. Now is
	// the instant the scan is evaluated as of (its start): a credential
	// report generated at or after it is current.
	Policy rule.Policy
	Now    time.Time
	// WithTags reads user tags: for every user with api and
	// credential-report, for flagged users with auto.
	WithTags bool
	// UserConcurrency bounds per-user calls in flight within the account
	// (default 16).
	UserConcurrency int
	// ReportWait is the first pause while AWS generates the credential
	// report; it doubles up to 2s (default 20ms).
	ReportWait time.Duration
	// Pause waits between credential report polls (default Sleep); the
	// scan lends the account's concurrency slot to another account for
	// the wait.
	Pause  func(ctx context.Context, d time.Duration) error
	Logger *slog.Logger
	// PageSize is MaxItems for ListUsers (default 1000) and ListAccessKeys
	// (default: AWS's, 100).
	PageSize int32
}

// RootKey is an access key of the account's root user. CreateDate is zero
// when the source cannot tell (the IAM API only counts root keys).
type RootKey struct {
	Status     string
	CreateDate time.Time
}

// Result is one account's inventory.
type Result struct {
	Users    []rule.User
	RootKeys []RootKey
	// NotReread counts the users with an inactive key past the limit that
	// auto did not re-read because the credential report was generated
	// during this scan (it re-reads them from an older report: the key may
	// have been reactivated since).
	NotReread int
}

// Collect reads the inventory of the account that cfg acts in.
func Collect(ctx context.Context, cfg aws.Config, accountID string, o Options) (*Result, error) {
	if o.UserConcurrency <= 0 {
		o.UserConcurrency = 16
	}
	if o.ReportWait <= 0 {
		o.ReportWait = 20 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Pause == nil {
		o.Pause = Sleep
	}
	c := &collector{iam: iam.NewFromConfig(cfg), account: accountID, o: o, log: o.Logger.With("account", accountID)}
	switch o.Source {
	case SourceAPI:
		return c.fromAPI(ctx)
	case SourceCredentialReport:
		return c.fromReport(ctx, false)
	case SourceAuto, "":
		return c.fromReport(ctx, true)
	}
	return nil, fmt.Errorf("unknown source %q", o.Source)
}

type collector struct {
	iam     *iam.Client
	account string
	o       Options
	log     *slog.Logger
}

// RootKeyPresent is the status of a root key known only from
// GetAccountSummary's AccountAccessKeysPresent, which does not say whether
// the key is active.
const RootKeyPresent = "Present"
