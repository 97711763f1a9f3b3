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
	if _, err := s.NewDelete().Model((*signature)(nil)).Where("seen_at < ?", at.Add(-SignatureTTL)).Exec(ctx); err != nil {
		return false, fmt.Errorf("prune signatures: %w", err)
	}
	row := &signature{Signature: sig, Scope: scope, SeenAt: at}
	if _, err := s.NewInsert().Model(row).On("CONFLICT (signature) DO NOTHING").Exec(ctx); err != nil {
		return false, fmt.Errorf("claim signature: %w", err)
	}
	var got signature
	if err := s.NewSelect().Model(&got).Where("signature = ?", sig).Scan(ctx); err != nil {
		return false, fmt.Errorf("claim signature: %w", err)
	}
	return got.Scope == scope, nil
}
