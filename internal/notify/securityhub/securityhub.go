// Package securityhub imports findings into AWS Security Hub as ASFF
// (BatchImportFindings), into each finding's own account through a role
// there, so that the organization's Security Hub administrator sees them
// aggregated like every other provider's.
package securityhub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"

	"github.com/keyage/keyage/internal/notify"
)

// MaxBatch is the most findings one BatchImportFindings call takes.
const MaxBatch = 100

// MaxFindingSize is the largest finding Security Hub accepts, in bytes.
const MaxFindingSize = 240 << 10

// ConfigFunc returns an aws.Config acting in an account, through the role
// there that may call securityhub:BatchImportFindings.
type ConfigFunc func(ctx context.Context, accountID string) (aws.Config, error)

// Options configure a Security Hub receiver.
type Options struct {
	// Configs hands out the credentials of each target account. Required:
	// with the default product ARN, Security Hub accepts a finding only
	// from the account in its AwsAccountId.
	Configs ConfigFunc
	// Region is the Security Hub region findings are imported into (the
	// product ARN's region). Required.
	Region string
	// Partition of the product ARN; "" takes it from each user's ARN.
	Partition string
	// Now is the clock of UpdatedAt; default time.Now.
	Now func() time.Time
}

// Notifier imports a message's items as findings.
type Notifier struct {
	o Options

	mu      sync.Mutex
	clients map[string]*securityhub.Client
	// done holds, per message ID, the findings already imported, so that a
	// retry of a partly failed message imports only the failed ones. An
	// entry lives until its message is delivered: it holds only the ids of
	// messages that failed in this process.
	done map[string]map[string]bool
}

var _ notify.Notifier = (*Notifier)(nil)

// New validates opts and returns a Notifier.
func New(opts Options) (*Notifier, error) {
	switch {
	case opts.Configs == nil:
		return nil, errors.New("securityhub: no credentials for the target accounts")
	case opts.Region == "":
		return nil, errors.New("securityhub: region: required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Notifier{o: opts, clients: map[string]*securityhub.Client{}, done: map[string]map[string]bool{}}, nil
}

// Findings are the findings of m's items: one per access key.
func (n *Notifier) Findings(m notify.Message) []notify.ASFFFinding {
	now := n.o.Now()
	var out []notify.ASFFFinding
	for _, it := range m.Items {
		if it.AccessKeyID == "" || it.AccountID == "" {
			continue // a key known only from the credential report has no id to track
		}
		out = append(out, notify.ASFFKeyFinding(it, m.Kind, notify.ASFFProduct{Partition: n.o.Partition, Region: n.o.Region}, now))
	}
	return out
}

// Notify imports m's findings into their accounts, at most MaxBatch per
// call. Findings Security Hub refuses one by one (FailedFindings) are
// retried on the next attempt, alone; a refusal for bad input is not
// retried. A test message imports nothing.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (retry bool, err error) {
	if m.Kind == notify.KindTest {
		return false, nil
	}
	byAccount := map[string][]notify.ASFFFinding{}
	n.mu.Lock()
	done := n.done[m.ID]
	n.mu.Unlock()
	for _, f := range n.Findings(m) {
		if !done[f.ID] {
			byAccount[f.AwsAccountID] = append(byAccount[f.AwsAccountID], f)
		}
	}
	accounts := make([]string, 0, len(byAccount))
	for a := range byAccount {
		accounts = append(accounts, a)
	}
	sort.Strings(accounts)
	var errs []error
	for _, acct := range accounts {
		ok, r, err := n.importAccount(ctx, acct, byAccount[acct])
		n.markDone(m.ID, ok)
		if err != nil {
			retry = retry || r
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		n.mu.Lock()
		delete(n.done, m.ID)
		n.mu.Unlock()
		return false, nil
	}
	return retry, fmt.Errorf("import message %s into Security Hub: %w", m.ID, errors.Join(errs...))
}

func (n *Notifier) markDone(msgID string, ids []string) {
	if len(ids) == 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.done[msgID] == nil {
		n.done[msgID] = map[string]bool{}
	}
	for _, id := range ids {
		n.done[msgID][id] = true
	}
}

// importAccount imports one account's findings, returning the ids imported.
func (n *Notifier) importAccount(ctx context.Context, acct string, fs []notify.ASFFFinding) (imported []string, retry bool, err error) {
	client, err := n.client(ctx, acct)
	if err != nil {
		return nil, notify.AWSRetryable(err), fmt.Errorf("credentials for account %s: %w", acct, err)
	}
	var in []types.AwsSecurityFinding
	var errs []error
	for _, f := range fs {
		sf, err := SDKFinding(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		in = append(in, sf)
	}
	for lo := 0; lo < len(in); lo += MaxBatch {
		batch := in[lo:min(lo+MaxBatch, len(in))]
		out, err := client.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: batch})
		if err != nil {
			errs = append(errs, fmt.Errorf("BatchImportFindings of %d findings in account %s: %w", len(batch), acct, err))
			retry = retry || notify.AWSRetryable(err)
			continue
		}
		failed := map[string]bool{}
		for _, ff := range out.FailedFindings {
			id, code := aws.ToString(ff.Id), aws.ToString(ff.ErrorCode)
			failed[id] = true
			errs = append(errs, fmt.Errorf("finding %s in account %s refused: %s: %s", id, acct, code, aws.ToString(ff.ErrorMessage)))
			retry = retry || transientCode(code)
		}
		for _, f := range batch {
			if id := aws.ToString(f.Id); !failed[id] {
				imported = append(imported, id)
			}
		}
	}
	return imported, retry, errors.Join(errs...)
}

// transientCode reports whether a FailedFindings error code is worth a retry.
func transientCode(code string) bool {
	switch {
	case strings.Contains(code, "Throttl"), strings.Contains(code, "Internal"), strings.Contains(code, "LimitExceeded"),
		strings.Contains(code, "TooManyRequests"):
		return true
	}
	return false
}

func (n *Notifier) client(ctx context.Context, acct string) (*securityhub.Client, error) {
	n.mu.Lock()
	c := n.clients[acct]
	n.mu.Unlock()
	if c != nil {
		return c, nil
	}
	cfg, err := n.o.Configs(ctx, acct)
	if err != nil {
		return nil, err
	}
	c = securityhub.NewFromConfig(cfg, func(o *securityhub.Options) { o.Region = n.o.Region })
	n.mu.Lock()
	n.clients[acct] = c
	n.mu.Unlock()
	return c, nil
}

// SDKFinding converts f to the SDK's finding through its JSON, refusing a
// finding larger than MaxFindingSize.
func SDKFinding(f notify.ASFFFinding) (types.AwsSecurityFinding, error) {
	var out types.AwsSecurityFinding
	b, err := json.Marshal(f)
	if err != nil {
		return out, fmt.Errorf("encode finding %s: %w", f.ID, err)
	}
	if len(b) > MaxFindingSize {
		return out, fmt.Errorf("finding %s is %d bytes, more than Security Hub's %d", f.ID, len(b), MaxFindingSize)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return out, fmt.Errorf("decode finding %s as the SDK's AwsSecurityFinding: %w", f.ID, err)
	}
	return out, nil
}
