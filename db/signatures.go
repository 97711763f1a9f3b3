package db

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// SignatureTTL is how long a claimed signature is remembered: longer than the window in which a signed
// request is accepted at all.
const SignatureTTL = 15 * time.Minute

type signature struct {
	bun.BaseModel `bun:"table:signatures"`

	Signature string    `bun:"signature,pk"`
	Scope     string    `bun:"scope"`
	SeenAt    time.Time `bun:"seen_at"`
}

// ClaimSignature binds a marketplace signature to the request it was made for (scope: method and path).
// It reports false when the signature was already used for another scope: the same headers replayed
// against another case or call. The same request again (a retry) keeps its claim. Claims older than
// SignatureTTL are forgotten.
func (s *Store) ClaimSignature(ctx context.Context, sig, scope string, at time.Time) (bool, error) {
	at = at.UTC()
	// One write transaction for the pruning and the claim: each purchase callback makes one fewer commit, and
	// so takes SQLite's write lock once less (the worker's records wait on the same lock).
	var claimed bool
	err := s.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewDelete().Model((*signature)(nil)).Where("seen_at < ?", at.Add(-SignatureTTL)).Exec(ctx); err != nil {
			return fmt.Errorf("prune signatures: %w", err)
		}
		res, err := tx.NewInsert().Model(&signature{Signature: sig, Scope: scope, SeenAt: at}).On("CONFLICT (signature) DO NOTHING").Exec(ctx)
		if err != nil {
			return fmt.Errorf("claim signature: %w", err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 1 {
			claimed = true
			return nil
		}
		var got signature
		if err := tx.NewSelect().Model(&got).Where("signature = ?", sig).Scan(ctx); err != nil {
			return fmt.Errorf("claim signature: %w", err)
		}
		claimed = got.Scope == scope
		return nil
	})
	return claimed, err
}
