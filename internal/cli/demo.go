package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/cycle"
	"github.com/keyage/keyage/internal/output"
)

type demoOptions struct {
	accounts int
	users    int
	seed     int64
	output   string
	dir      string
	listen   string
	once     bool
}

func newDemoCmd(f *Factory) *cobra.Command {
	o := &demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run keyage end to end against an in-process sandbox organization",
		Example: `  # the whole cycle, then the dashboard on http://127.0.0.1:8080 until Ctrl-C
  keyage demo
  # one cycle and stop; a bigger organization
  keyage demo --once --accounts 50 --users 100
  # the scan's findings as JSON on stdout (narrative on stderr)
  keyage demo --once -o json`,
		Long: `Demo starts a sandbox organization in this process (no AWS account, no
network) and runs keyage's main job on it, the way the seed's architecture
works on a real organization:

 1. the master account's central SNS topic, with an SQS queue subscribed to it;
 2. a scan of every account ("keyage scan --org"): assume the audit role,
    read the credential report, re-check flagged users in real time, apply
    access-keys-rotated;
 3. remediation ("keyage run"): one message per NON_COMPLIANT user to the
    central topic, and digests per owner to a local JSON-lines file;
 4. what arrived in the subscribed queue;
 5. the dashboard ("keyage serve"), until Ctrl-C (--once stops after step 4).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&o.accounts, "accounts", 12, "accounts in the sandbox organization")
	fl.IntVar(&o.users, "users", 40, "IAM users per account")
	fl.Int64Var(&o.seed, "seed", 1, "random seed of the generated organization")
	addOutputFlags(fl, &o.output, nil, output.Table, output.JSON, output.CSV)
	fl.StringVar(&o.dir, "dir", "", "directory for the demo's state and files (default: a new temporary directory)")
	fl.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address of the dashboard")
	fl.BoolVar(&o.once, "once", false, "stop after the first cycle instead of serving the dashboard")
	return cmd
}

func runDemo(ctx context.Context, f *Factory, o *demoOptions) error {
	// stdout carries the scan in -o's format; with json or csv, the
	// narrative goes to stderr so that stdout is only data.
	data, narr := f.IO.Out, f.IO.Out
	if o.output != string(output.Table) {
		narr = f.IO.ErrOut
	}
	ios := &IO{In: f.IO.In, Out: narr, ErrOut: f.IO.ErrOut, ErrIsTerminal: f.IO.ErrIsTerminal, Logger: f.IO.Logger, Progress: f.IO.display()}
	if o.accounts < 2 {
		return usageError(fmt.Errorf("--accounts %d: the demo needs at least 2", o.accounts))
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sb, err := newSandbox(&sandboxOptions{accounts: o.accounts, users: o.users, seed: o.seed}, ios)
	if err != nil {
		return err
	}
	url, wait, err := startSandbox(sctx, sb, "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer func() { cancel(); _ = wait() }()
	dir := o.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "keyage-demo-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	id, secret := sb.ManagementCredentials()
	creds := &aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}
	// Every AWS call of the demo goes to the sandbox, with its keys.
	sandboxAWS := func(ctx context.Context, o awsenv.Options) (aws.Config, error) {
		o.StaticCredentials, o.EndpointURL, o.Region = creds, url, "us-east-1"
		return awsenv.Load(ctx, o)
	}
	base, err := sandboxAWS(ctx, awsenv.Options{})
	if err != nil {
		return err
	}
	fmt.Fprintf(ios.ErrOut, "keyage demo: sandbox organization of %d accounts x %d users at %s (management account %s); files in %s\n",
		o.accounts, o.users, url, sb.ManagementAccountID(), dir)

	// 1. The seed's master account: a central topic, an SQS queue on it.
	topic, err := sns.NewFromConfig(base).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("access-key-rotation")})
	if err != nil {
		return fmt.Errorf("create the central topic: %w", awsenv.Simplify(err))
	}
	sqsc := sqs.NewFromConfig(base)
	q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("access-key-rotation")})
	if err != nil {
		return fmt.Errorf("create the queue: %w", awsenv.Simplify(err))
	}
	qa, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return fmt.Errorf("read the queue's ARN: %w", awsenv.Simplify(err))
	}
	if _, err := sns.NewFromConfig(base).Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
		Endpoint: aws.String(qa.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}); err != nil {
		return fmt.Errorf("subscribe the queue to the topic: %w", awsenv.Simplify(err))
	}
	fmt.Fprintf(ios.ErrOut, "keyage demo: central topic %s, with the queue %s subscribed\n\n", aws.ToString(topic.TopicArn), aws.ToString(q.QueueUrl))

	configPath := filepath.Join(dir, "keyage.yaml")
	cfgText := fmt.Sprintf(`# keyage demo configuration
accounts: {organization: true}
scan: {accountTimeout: 2m}
rule: {maxAccessKeyAge: 90, warnAge: 80}
receivers:
  - name: central-topic
    sns: {topicArn: %q}
  - name: owner-digests
    file: {path: %q}
routes:
  - receivers: [central-topic]       # the seed: one message per NON_COMPLIANT user
  - match: {stage: [warning, expired]}
    receivers: [owner-digests]
    groupBy: [owner]
`, aws.ToString(topic.TopicArn), filepath.Join(dir, "owner-digests.jsonl"))
	if err := os.WriteFile(configPath, []byte(cfgText), 0o600); err != nil {
		return err
	}
	state := filepath.Join(dir, "keyage.db")

	// 2 and 3: scan, remediate, notify.
	if err := demoCycle(ctx, f, sandboxAWS, configPath, state, o.output, data, narr); err != nil {
		var ee *ExitError
		if !asExit(err, &ee) || ee.Code != ExitAccountError || ee.Err != nil {
			return err
		}
		// The sandbox leaves one account without the audit role on purpose.
	}

	// 4. What arrived in the queue.
	if err := printQueue(ctx, ios, sqsc, aws.ToString(q.QueueUrl)); err != nil {
		return err
	}
	fmt.Fprintf(ios.Out, "\nThe sandbox leaves one account without the audit role on purpose: it is reported, and every other account is still scanned.\n")
	fmt.Fprintf(ios.Out, "Owner digests: %s. Configuration: %s. State: %s (keyage executions --state %s).\n", filepath.Join(dir, "owner-digests.jsonl"), configPath, state, state)
	if o.once {
		return nil
	}

	// 5. The dashboard: keyage serve, with the sandbox as its AWS.
	sf := *f
	sf.AWSConfig, sf.IO = sandboxAWS, ios
	so := &serveOptions{scan: scanOptions{configPath: configPath, output: o.output}, statePath: state, listen: o.listen, ready: func(u string) {
		fmt.Fprintf(ios.Out, "\nDashboard: %s  (Ctrl-C stops the demo)\n", u)
	}}
	return runServe(ctx, &sf, so, func(string) bool { return false })
}

// demoCycle runs one cycle over the sandbox as keyage run does, printing the
// scan in format (table, json or csv) on data instead of its summary line,
// and the rest on narr.
func demoCycle(ctx context.Context, f *Factory, aws cycle.AWSSource, configPath, state, format string, data, narr io.Writer) error {
	cfg, err := config.Load(configPath)
	if err != nil {
		return err
	}
	st, err := f.OpenStore(ctx, state)
	if err != nil {
		return err
	}
	defer st.Close()
	co := cycle.Options{AWS: aws, Store: st, Now: f.Now, Logger: f.IO.Logger, Stdout: narr, Version: version(), Deliver: true, WholeResult: true,
		Recorded: func(rep *cycle.Report) error {
			return output.Write(data, output.Format(format), rep.Result, output.Options{})
		}}
	co.Progress, co.AfterScan = f.progressBar()
	r, err := cycle.New(ctx, cfg, co)
	if err != nil {
		return err
	}
	rep, err := r.RunOnce(ctx, f.Now())
	if err != nil {
		return err
	}
	return printRun(narr, rep, false, failOn{})
}

// printQueue receives and prints what the central topic delivered to its
// subscribed queue, in the SNS envelope.
func printQueue(ctx context.Context, ios *IO, client *sqs.Client, url string) error {
	var texts []string
	for {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"}})
		if err != nil {
			return fmt.Errorf("receive from the demo queue: %w", awsenv.Simplify(err))
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			var env struct{ Type, Message string }
			if json.Unmarshal([]byte(aws.ToString(m.Body)), &env) == nil && env.Type == "Notification" {
				texts = append(texts, env.Message)
			}
			if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return fmt.Errorf("delete from the demo queue: %w", awsenv.Simplify(err))
			}
		}
	}
	fmt.Fprintf(ios.Out, "\nArrived in the queue subscribed to the central topic: %d messages (SNS envelopes), for example:\n", len(texts))
	for i, t := range texts {
		if i == 5 {
			fmt.Fprintf(ios.Out, "  ... and %d more\n", len(texts)-5)
			break
		}
		fmt.Fprintf(ios.Out, "  %s\n", t)
	}
	return nil
}
