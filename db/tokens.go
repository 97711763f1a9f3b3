package db

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// Role is what a token's bearer may do.
type Role string

const (
	// RolePartner is a partner engineer: sees and steps only its own company's cases.
	RolePartner Role = "partner"
	// RoleManager is the provider's service desk: sees every case.
	RoleManager Role = "manager"
)

// TokenPrefix starts every API token secret, so leaked secrets are easy to recognise and scan for.
const TokenPrefix = "stw_"

// minSecretLen is the shortest secret IssueTokenWithSecret accepts.
const minSecretLen = 16

// Token is an API bearer token. Only Hash, the SHA-256 of the secret, is stored: the secret is
// shown once, when the token is issued.
type Token struct {
	bun.BaseModel `bun:"table:tokens"`

	ID        string     `bun:"id,pk" json:"id"`
	Hash      string     `bun:"hash" json:"-"`
	Role      Role       `bun:"role" json:"role"`
	PartnerID string     `bun:"partner_id,nullzero" json:"partner_id,omitempty"`
	Name      string     `bun:"name" json:"name"`
	CreatedAt time.Time  `bun:"created_at" json:"created_at"`
	RevokedAt *time.Time `bun:"revoked_at" json:"revoked_at,omitempty"`
}

var _ bun.AfterScanRowHook = (*Token)(nil)

// AfterScanRow returns times in UTC.
func (t *Token) AfterScanRow(context.Context) error {
	t.CreatedAt = t.CreatedAt.UTC()
	t.RevokedAt = utcPtr(t.RevokedAt)
	return nil
}

// HashSecret returns the hex SHA-256 of a token secret, the form in which it is stored.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewTokenSecret returns a fresh secret: TokenPrefix and 32 random bytes in unpadded base64url.
func NewTokenSecret() string {
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(randomBytes(32))
}

func newTokenID() string {
	return "tok_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(randomBytes(10)))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it panics on a broken system source)
	return b
}

// IssueToken creates a token and returns its secret, which is not stored and cannot be recovered.
// The store validates the bearer: a partner token needs an existing active partner (ErrNotFound
// otherwise); a manager token takes no partner id (ErrInvalid).
func (s *Store) IssueToken(ctx context.Context, role Role, partnerID, name string) (string, *Token, error) {
	secret := NewTokenSecret()
	tok, err := s.insertToken(ctx, role, partnerID, name, secret)
	if err != nil {
		return "", nil, fmt.Errorf("issue token: %w", err)
	}
	return secret, tok, nil
}

// IssueTokenWithSecret creates a token for a secret chosen by the caller — the dev stack's fixed
// demo tokens. It is idempotent: the same secret again returns the existing token (revoked or not);
// the same secret for another role or partner is ErrConflict. Validation as IssueToken; the secret
// must be at least 16 characters.
func (s *Store) IssueTokenWithSecret(ctx context.Context, role Role, partnerID, name, secret string) (*Token, error) {
	if len(secret) < minSecretLen {
		return nil, fmt.Errorf("issue token: secret shorter than %d: %w", minSecretLen, ErrInvalid)
	}
	tok, err := s.insertToken(ctx, role, partnerID, name, secret)
	if err != nil {
		return nil, fmt.Errorf("issue token: %w", err)
	}
	return tok, nil
}

func (s *Store) insertToken(ctx context.Context, role Role, partnerID, name, secret string) (*Token, error) {
	switch role {
	case RoleManager:
		if partnerID != "" {
			return nil, fmt.Errorf("manager token with partner id: %w", ErrInvalid)
		}
	case RolePartner:
		p, err := s.GetPartner(ctx, partnerID)
		if err != nil {
			return nil, err
		}
		if !p.Active {
			return nil, fmt.Errorf("partner %s disabled: %w", partnerID, ErrNotFound)
		}
	default:
		return nil, fmt.Errorf("role %q: %w", role, ErrInvalid)
	}
	tok := &Token{
		ID:        newTokenID(),
		Hash:      HashSecret(secret),
		Role:      role,
		PartnerID: partnerID,
		Name:      name,
		CreatedAt: time.Now().UTC(),
	}
	res, err := s.NewInsert().Model(tok).On("CONFLICT (hash) DO NOTHING").Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("insert token: %w", err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return nil, err
	}
	if n == 1 {
		return tok, nil
	}
	stored := new(Token)
	if err := s.NewSelect().Model(stored).Where("hash = ?", tok.Hash).Scan(ctx); err != nil {
		return nil, notFound(err, "get token")
	}
	if stored.Role != role || stored.PartnerID != partnerID {
		return nil, fmt.Errorf("secret in use by token %s: %w", stored.ID, ErrConflict)
	}
	return stored, nil
}

// Authenticate returns the live token for secret. Unknown and revoked secrets, and the tokens of a
// disabled or deleted partner, are ErrNotFound. The secret is hashed before the lookup, so the
// database compares digests, never the secret.
func (s *Store) Authenticate(ctx context.Context, secret string) (*Token, error) {
	hash := HashSecret(secret)
	tok := new(Token)
	err := s.NewSelect().Model(tok).
		Where("token.hash = ?", hash).
		Where("token.revoked_at IS NULL").
		Where("token.role <> ? OR EXISTS (SELECT 1 FROM partners AS p WHERE p.id = token.partner_id AND p.active)", RolePartner).
		Scan(ctx)
	if err != nil {
		return nil, notFound(err, "authenticate")
	}
	if subtle.ConstantTimeCompare([]byte(tok.Hash), []byte(hash)) != 1 {
		return nil, fmt.Errorf("authenticate: %w", ErrNotFound)
	}
	return tok, nil
}

// RevokeToken revokes a token by id; revoking it again is a no-op. ErrNotFound for an unknown id.
func (s *Store) RevokeToken(ctx context.Context, id string) error {
	res, err := s.NewUpdate().Model((*Token)(nil)).
		Set("revoked_at = COALESCE(revoked_at, ?)", time.Now().UTC()).
		Where("id = ?", id).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("revoke token %s: %w", id, ErrNotFound)
	}
	return nil
}

// ListTokens returns all tokens, revoked ones included, oldest first.
func (s *Store) ListTokens(ctx context.Context) ([]Token, error) {
	ts := []Token{}
	if err := s.NewSelect().Model(&ts).Order("created_at ASC", "id ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return ts, nil
}
