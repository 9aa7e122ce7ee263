package store

import (
	"fmt"
	"slices"
	"testing"
)

// TestNotifiedItemsOf: a batch of accounts reads its own notify state, in
// a transaction or not.
func TestNotifiedItemsOf(t *testing.T) {
	s, ctx := open(t), t.Context()
	err := s.Update(ctx, func(tx *Tx) error {
		// Two records in 222222222222, one in each other account.
		for i, acct := range []string{"111111111111", "222222222222", "222222222222", "333333333333"} {
			n := Notified{Receiver: "f", ItemKey: fmt.Sprintf("%s/AIDA%d/AKIA%d", acct, i, i), AccountID: acct, ResourceID: fmt.Sprintf("AIDA%d", i),
				Stage: "expired", NotifiedAt: t0, ItemJSON: []byte(`{}`)}
			if err := tx.SetNotified(ctx, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		accounts []string
		want     []string // the accounts of the records, sorted
	}{
		{"one account", []string{"111111111111"}, []string{"111111111111"}},
		{"two accounts", []string{"222222222222", "333333333333"}, []string{"222222222222", "222222222222", "333333333333"}},
		{"an account without records", []string{"444444444444"}, nil},
		{"no accounts", nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := s.Update(ctx, func(tx *Tx) error {
				inTx, err := tx.NotifiedItemsOf(ctx, tt.accounts)
				if err != nil {
					return err
				}
				outside, err := s.NotifiedItemsOf(ctx, tt.accounts)
				if err != nil {
					return err
				}
				if len(inTx) != len(outside) {
					t.Errorf("NotifiedItemsOf(%v): %d in the transaction, %d outside", tt.accounts, len(inTx), len(outside))
				}
				for _, n := range inTx {
					got = append(got, n.AccountID)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("NotifiedItemsOf(%v) accounts = %v, want %v", tt.accounts, got, tt.want)
			}
		})
	}
}
