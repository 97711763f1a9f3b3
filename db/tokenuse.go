package db

import (
	"context"
	"fmt"
	"time"
)

// maxClientAddr bounds the client address a token's last use keeps.
const maxClientAddr = 64

// RecordTokenUse notes that token id authenticated at at from the client address from, unless its last
// use was noted less than TokenUseInterval before: the condition is the database's, so however many API
// processes serve the token, it is written at most once per interval. It reports whether it wrote.
func (s *Store) RecordTokenUse(ctx context.Context, id, from string, at time.Time) (bool, error) {
	at = at.UTC()
	if len(from) > maxClientAddr {
		from = from[:maxClientAddr]
	}
	res, err := s.NewUpdate().Model((*Token)(nil)).Set("last_used_at = ?", at).Set("last_used_from = ?", from).
		Where("id = ?", id).Where("last_used_at IS NULL OR last_used_at <= ?", at.Add(-TokenUseInterval)).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("record use of token %s: %w", id, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return false, fmt.Errorf("record use of token %s: %w", id, err)
	}
	return n == 1, nil
}

// TokenUseDue reports whether a token's use at at is to be written: its last one was noted
// TokenUseInterval before or longer ago, or never. The API asks before RecordTokenUse, so a token's
// requests cost no write in between.
func TokenUseDue(t *Token, at time.Time) bool {
	return t.LastUsedAt == nil || !at.Before(t.LastUsedAt.Add(TokenUseInterval))
}
