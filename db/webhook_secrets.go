package db

import (
	"context"
	"fmt"
	"time"
)

// RotateWebhookSecretOverlap gives the subscription a new secret and keeps the one it replaces until until:
// deliveries sent before then carry a signature with each (SigningSecrets), so the receiver can switch to
// the new secret at any moment of the overlap. An until not after now is RotateWebhookSecret: no overlap.
// A rotation during an overlap replaces the secret still kept: only the current and the one before it sign.
func (s *Store) RotateWebhookSecretOverlap(ctx context.Context, id, secret string, now, until time.Time) error {
	if !until.After(now) {
		return s.RotateWebhookSecret(ctx, id, secret)
	}
	if secret == "" {
		return fmt.Errorf("rotate webhook secret %s: empty secret: %w", id, ErrInvalid)
	}
	res, err := s.NewUpdate().Model((*WebhookSubscription)(nil)).Set("previous_secret = secret").Set("previous_until = ?", until.UTC()).
		Set("secret = ?", secret).Where("id = ?", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("rotate webhook secret %s: %w", id, err)
	}
	if n, _ := rowsAffected(res); n == 0 {
		return fmt.Errorf("webhook subscription %s: %w", id, ErrNotFound)
	}
	return nil
}

// SigningSecrets are the secrets a delivery to w signs with at now: the current one, and the previous one
// while the last rotation's overlap lasts.
func (w *WebhookSubscription) SigningSecrets(now time.Time) [][]byte {
	secrets := [][]byte{[]byte(w.Secret)}
	if w.PreviousSecret != "" && w.PreviousSecret != w.Secret && w.PreviousUntil != nil && now.Before(*w.PreviousUntil) {
		secrets = append(secrets, []byte(w.PreviousSecret))
	}
	return secrets
}
