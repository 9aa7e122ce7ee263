package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Outbox is the durable queue a Dispatcher delivers from (the store's
// outbox, through an adapter). Claimed messages are leased to one owner
// until the lease runs out, so two dispatchers on one outbox never send the
// same message, and a dead dispatcher's messages pass to another.
type Outbox interface {
	// ClaimDue leases to owner, until now+lease, up to limit pending
	// messages due at now that no live lease holds, oldest first, leaving
	// out the receivers in skip; messages owner already holds are not
	// returned again.
	ClaimDue(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int, skip ...string) ([]Queued, error)
	// RenewLeases extends owner's leases on the pending messages it holds
	// to now+lease.
	RenewLeases(ctx context.Context, owner string, now time.Time, lease time.Duration) error
	// ExtendLease extends owner's live lease on message id to now+lease;
	// false when owner no longer holds a live lease on it, and then owner's
	// lapsed lease on it, if any, is released (RenewLeases must not revive
	// it for a dispatcher that will not send it).
	ExtendLease(ctx context.Context, owner, id string, now time.Time, lease time.Duration) (bool, error)
	// ReleaseLeases gives up owner's leases on the messages it did not get
	// to send: on ids, or on all it holds when ids is empty.
	ReleaseLeases(ctx context.Context, owner string, ids ...string) error
	// NextDue returns when the next pending message that owner holds or
	// could claim at now is due; zero when there is none.
	NextDue(ctx context.Context, owner string, now time.Time) (time.Time, error)
	// RecordOutcomes stores delivery outcomes in one transaction.
	RecordOutcomes(ctx context.Context, outcomes []Outcome) error
}

// Queued is one claimed outbox message.
type Queued struct {
	ID       string
	Receiver string
	// Attempts made so far, and how many are allowed.
	Attempts    int
	MaxAttempts int
	// Body is the Message as EncodeMessage wrote it.
	Body []byte

	leaseUntil time.Time // set by the Dispatcher that claimed it
}

// Outcome is the result of one delivery attempt.
type Outcome struct {
	ID string
	At time.Time
	// Err is empty on success.
	Err string
	// Final marks a failure as the last attempt; otherwise the message is
	// retried at NextAttemptAt.
	Final         bool
	NextAttemptAt time.Time
}

// stored is a message as the outbox keeps it: Message does not serialise
// its JSON flag.
type stored struct {
	Message
	Format string `json:"format,omitempty"`
}

// EncodeMessage returns m as the outbox keeps it (Queued.Body).
func EncodeMessage(m Message) ([]byte, error) {
	s := stored{Message: m}
	if m.JSON {
		s.Format = "json"
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode message %s: %w", m.ID, err)
	}
	return b, nil
}

// DecodeMessage reads a message written by EncodeMessage.
func DecodeMessage(b []byte) (Message, error) {
	var s stored
	if err := json.Unmarshal(b, &s); err != nil {
		return Message{}, fmt.Errorf("decode message: %w", err)
	}
	s.Message.JSON = s.Format == "json"
	return s.Message, nil
}
