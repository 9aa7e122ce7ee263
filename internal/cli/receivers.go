package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/receivers"
	"github.com/keyage/keyage/internal/output"
)

// receiversTestOptions are the flags of keyage receivers test.
type receiversTestOptions struct {
	configPath string
	name       string
	to         []string
	stage      string
	create     bool
	output     string
	env        awsenv.Options
	now        func() time.Time
}

func newReceiversCmd(ios *IO) *cobra.Command {
	cmd := &cobra.Command{Use: "receivers", Short: "Work with the config's notification receivers"}
	o := receiversTestOptions{now: time.Now}
	test := &cobra.Command{
		Use:   "test [NAME]",
		Short: "Send a test message through one receiver, or list the receivers",
		Long: `Without NAME, list the config's receivers and their kinds.

With NAME, send one real message through that receiver, marked as a test in
its subject and text and sent with kind "test" (SNS and SQS carry it as the
kind message attribute, so subscribers can filter it out). The message holds
one made-up key (user keyage-test, access key AKIAIOSFODNN7EXAMPLE) at the
stage of --stage.

E-mail receivers that address owners ({{ .Owner }}) need --to. A Jira test
only reads the project (checking the URL, credentials and project) unless
--create is given: then it creates a test issue and resolves it at once.`,
		Example: `  # list the receivers and their kinds
  keyage receivers test --config keyage.yaml
  # send a test message through the receiver named security-sns
  keyage receivers test security-sns --config keyage.yaml
  # an owner-addressed e-mail receiver, sent to you instead
  keyage receivers test owners-mail --to you@example.com
  # Jira: create a test issue and resolve it straight away
  keyage receivers test sec-jira --create`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return runReceiversList(ios, o)
			}
			o.name = args[0]
			return runReceiversTest(cmd.Context(), ios, o)
		},
	}
	f := test.Flags()
	addConfigFlag(f, &o.configPath)
	f.StringSliceVar(&o.to, "to", nil, "e-mail receivers: send to this address instead of the receiver's to: list")
	f.StringVar(&o.stage, "stage", "expired", "stage of the test message's made-up key: "+orList(config.Stages))
	f.BoolVar(&o.create, "create", false, "Jira: create a test issue and resolve it at once (default: only check access)")
	addOutputFlags(f, &o.output, nil, output.Table, output.JSON)
	addAWSFlags(f, &o.env.EndpointURL, &o.env.Region, &o.env.Profile)
	cmd.AddCommand(test)
	return cmd
}

// receiverRow is one receiver in the list of receivers test without NAME.
type receiverRow struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Addresses says who an e-mail receiver writes to: "fixed", "owners"
	// or "fixed+owners"; empty for other kinds.
	Addresses string `json:"addresses,omitempty"`
}

func runReceiversList(ios *IO, o receiversTestOptions) error {
	cfg, err := loadConfig(o.configPath)
	if err != nil {
		return usageError(err)
	}
	rows := make([]receiverRow, 0, len(cfg.Receivers))
	for _, r := range cfg.Receivers {
		row := receiverRow{Name: r.Name, Kind: r.Kind()}
		if r.Email != nil {
			fixed, owners := splitRecipients(r.Email.To)
			switch {
			case len(fixed) > 0 && owners:
				row.Addresses = "fixed+owners"
			case owners:
				row.Addresses = "owners"
			default:
				row.Addresses = "fixed"
			}
		}
		rows = append(rows, row)
	}
	if o.output == string(output.JSON) {
		enc := json.NewEncoder(ios.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(ios.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tADDRESSES")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Kind, cmp.Or(r.Addresses, "-"))
	}
	return tw.Flush()
}

// splitRecipients separates fixed addresses from templates (owner
// addresses) in an e-mail receiver's to: list.
func splitRecipients(to []string) (fixed []string, owners bool) {
	for _, a := range to {
		if config.IsTemplate(a) {
			owners = true
		} else {
			fixed = append(fixed, a)
		}
	}
	return fixed, owners
}

// testMessage is the clearly marked test message of receivers test.
func testMessage(name, stage string, now time.Time) notify.Message {
	now = now.UTC()
	created := now.AddDate(0, 0, -100)
	item := notify.Item{AccountID: "000000000000", AccountName: "keyage-test", UserName: "keyage-test",
		ResourceID: "AIDAKEYAGETEST000000", AccessKeyID: "AKIAIOSFODNN7EXAMPLE", AgeDays: 100, MaxAge: 90,
		Stage: stage, Compliance: "NON_COMPLIANT", CreateDate: created, Deadline: created.AddDate(0, 0, 90)}
	return notify.Message{
		ID: fmt.Sprintf("test-%d", now.UnixNano()), Kind: notify.KindTest, Receiver: name, GroupKey: "test",
		Subject: "[keyage test] test message for receiver " + name + " (stage " + stage + ")",
		Text: "TEST MESSAGE from keyage receivers test: receiver " + name + " works. " +
			"The key below is made up (user keyage-test, access key AKIAIOSFODNN7EXAMPLE, stage " + stage + "); nothing needs doing.",
		Items: []notify.Item{item}, CreatedAt: now,
	}
}

// jiraTester is the Jira receiver's create-and-resolve test.
type jiraTester interface {
	CreateTestIssue(ctx context.Context, m notify.Message) (key string, retry bool, err error)
}

func runReceiversTest(ctx context.Context, ios *IO, o receiversTestOptions) error {
	cfg, err := loadConfig(o.configPath)
	if err != nil {
		return usageError(err)
	}
	rcv, ok := cfg.Receiver(o.name)
	if !ok {
		var names []string
		for _, r := range cfg.Receivers {
			names = append(names, r.Name)
		}
		return usageError(fmt.Errorf("no receiver named %q (have: %s)", o.name, strings.Join(names, ", ")))
	}
	if !slices.Contains(config.Stages, o.stage) {
		return usageError(fmt.Errorf("--stage %q: want %s", o.stage, orList(config.Stages)))
	}
	kind := rcv.Kind()
	if len(o.to) > 0 && rcv.Email == nil {
		return usageError(fmt.Errorf("--to: receiver %s is %s, not e-mail; --to applies to e-mail receivers only", o.name, kind))
	}
	if o.create && rcv.Jira == nil {
		return usageError(fmt.Errorf("--create: receiver %s is %s, not jira; --create applies to Jira receivers only", o.name, kind))
	}
	msg := testMessage(o.name, o.stage, o.now())
	if rcv.Email != nil {
		fixed, _ := splitRecipients(rcv.Email.To)
		msg.Recipients = fixed
		if len(o.to) > 0 {
			msg.Recipients = o.to
		}
		if len(msg.Recipients) == 0 {
			return usageError(fmt.Errorf("receiver %s sends to owners only (to: %s): a test message has no owner; give an address with --to", o.name, strings.Join(rcv.Email.To, ", ")))
		}
	}
	one := *cfg
	one.Receivers = []config.Receiver{*rcv}
	base, err := awsenv.Load(ctx, o.env)
	if err != nil {
		return err
	}
	notifiers, err := receivers.Build(&one, receivers.Env{AWS: base, Stdout: ios.Out, Version: version()})
	if err != nil {
		return usageError(err)
	}
	n := notifiers[o.name]
	tctx, cancel := context.WithTimeout(ctx, time.Duration(cfg.Remediation.TimeoutSeconds)*time.Second)
	defer cancel()
	if o.create {
		jt, ok := n.(jiraTester)
		if !ok {
			return fmt.Errorf("receiver %s (jira) cannot create test issues", o.name)
		}
		key, _, err := jt.CreateTestIssue(tctx, msg)
		if err != nil {
			return fmt.Errorf("receiver %s (jira): %w", o.name, err)
		}
		fmt.Fprintf(ios.ErrOut, "created test issue %s through %s (jira) and resolved it\n", key, o.name)
		return nil
	}
	if _, err := n.Notify(tctx, msg); err != nil {
		return fmt.Errorf("receiver %s (%s): %w", o.name, kind, err)
	}
	switch {
	case rcv.Jira != nil:
		fmt.Fprintf(ios.ErrOut, "checked access to %s (jira): the URL, credentials and project work; no issue was created (use --create to create and resolve a test issue)\n", o.name)
	case len(msg.Recipients) > 0:
		fmt.Fprintf(ios.ErrOut, "sent a test message through %s (%s) to %s\n", o.name, kind, strings.Join(msg.Recipients, ", "))
	default:
		fmt.Fprintf(ios.ErrOut, "sent a test message through %s (%s)\n", o.name, kind)
	}
	return nil
}
