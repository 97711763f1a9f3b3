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

// Token life cycle defaults.
const (
	// DefaultTokenTTL is how long a token is valid from its issue (steward tokens issue -ttl).
	DefaultTokenTTL = 90 * 24 * time.Hour
	// DefaultRotationGrace is how long a rotated token stays valid beside its successor (steward tokens
	// rotate -grace).
	DefaultRotationGrace = 24 * time.Hour
	// TokenUseInterval is how often, at most, a token's last use is written.
	TokenUseInterval = time.Minute
)

// Why AuthenticateAt refuses a token it knows; each wraps ErrNotFound, as an unknown secret is.
var (
	ErrTokenExpired    = fmt.Errorf("token expired: %w", ErrNotFound)
	ErrTokenRevoked    = fmt.Errorf("token revoked: %w", ErrNotFound)
	ErrPartnerDisabled = fmt.Errorf("partner disabled: %w", ErrNotFound)
)

// TokenRefusal is AuthenticateAt's error for a known token that may not authenticate: Reason is
// ErrTokenExpired, ErrTokenRevoked or ErrPartnerDisabled, and Token the token (never its secret).
type TokenRefusal struct {
	Reason error
	Token  Token
}

func (e *TokenRefusal) Error() string {
	return "authenticate: token " + e.Token.ID + ": " + e.Reason.Error()
}

// Unwrap returns Reason.
func (e *TokenRefusal) Unwrap() error { return e.Reason }

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
	// ExpiresAt is when the token stops authenticating; nil never (none is issued so any more: the
	// migration gave the older ones DefaultTokenTTL).
	ExpiresAt *time.Time `bun:"expires_at" json:"expires_at,omitempty"`
	// LastUsedAt and LastUsedFrom are when and from which client address the token last authenticated,
	// written at most once per TokenUseInterval (RecordTokenUse).
	LastUsedAt   *time.Time `bun:"last_used_at" json:"last_used_at,omitempty"`
	LastUsedFrom string     `bun:"last_used_from" json:"last_used_from,omitempty"`
	// ReplacedBy is the id of the successor the token was rotated to (RotateToken); it then expires at the
	// end of the rotation's grace period.
	ReplacedBy string `bun:"replaced_by" json:"replaced_by,omitempty"`
	// PartnerActive is whether a partner token's company is enabled, read by AuthenticateAt only.
	PartnerActive bool `bun:"partner_active,scanonly" json:"-"`
}

var _ bun.AfterScanRowHook = (*Token)(nil)

// AfterScanRow returns times in UTC.
func (t *Token) AfterScanRow(context.Context) error {
	t.CreatedAt = t.CreatedAt.UTC()
	t.RevokedAt, t.ExpiresAt, t.LastUsedAt = utcPtr(t.RevokedAt), utcPtr(t.ExpiresAt), utcPtr(t.LastUsedAt)
	return nil
}

// Token states, as State reports them.
const (
	TokenLive    = "live"
	TokenRotated = "rotated" // replaced by a successor, still valid for the rest of its grace period
	TokenExpired = "expired"
	TokenRevoked = "revoked"
)

// State is the token's state at now: revoked, expired, rotated (within its grace period) or live. A
// partner company's disabling is not the token's own state (AuthenticateAt refuses it all the same).
func (t *Token) State(now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return TokenRevoked
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return TokenExpired
	case t.ReplacedBy != "":
		return TokenRotated
	}
	return TokenLive
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

// IssueToken creates a token valid for DefaultTokenTTL and returns its secret, which is not stored and
// cannot be recovered. The store validates the bearer: a partner token needs an existing active partner
// (ErrNotFound otherwise); a manager token takes no partner id (ErrInvalid).
func (s *Store) IssueToken(ctx context.Context, role Role, partnerID, name string) (string, *Token, error) {
	return s.IssueTokenTTL(ctx, role, partnerID, name, DefaultTokenTTL)
}

// IssueTokenTTL is IssueToken with the token valid for ttl, more than zero (ErrInvalid otherwise).
func (s *Store) IssueTokenTTL(ctx context.Context, role Role, partnerID, name string, ttl time.Duration) (string, *Token, error) {
	if ttl <= 0 {
		return "", nil, fmt.Errorf("issue token: ttl %s: %w", ttl, ErrInvalid)
	}
	secret := NewTokenSecret()
	if err := s.checkBearer(ctx, role, partnerID); err != nil {
		return "", nil, fmt.Errorf("issue token: %w", err)
	}
	tok, err := insertToken(ctx, s.DB, newToken(role, partnerID, name, secret, time.Now().UTC(), ttl))
	if err != nil {
		return "", nil, fmt.Errorf("issue token: %w", err)
	}
	return secret, tok, nil
}

// IssueTokenWithSecret creates a token for a secret chosen by the caller — the dev stack's fixed
// demo tokens — valid for DefaultTokenTTL. It is idempotent: the same secret again returns the existing
// token (revoked or not), its expiry renewed to DefaultTokenTTL from now unless it was revoked or rotated,
// so a dev stack started at least every 90 days keeps its tokens; the same secret for another role or
// partner is ErrConflict. Validation as IssueToken; the secret must be at least 16 characters.
func (s *Store) IssueTokenWithSecret(ctx context.Context, role Role, partnerID, name, secret string) (*Token, error) {
	if len(secret) < minSecretLen {
		return nil, fmt.Errorf("issue token: secret shorter than %d: %w", minSecretLen, ErrInvalid)
	}
	if err := s.checkBearer(ctx, role, partnerID); err != nil {
		return nil, fmt.Errorf("issue token: %w", err)
	}
	now := time.Now().UTC()
	tok, err := insertToken(ctx, s.DB, newToken(role, partnerID, name, secret, now, DefaultTokenTTL))
	if err != nil {
		return nil, fmt.Errorf("issue token: %w", err)
	}
	if tok.RevokedAt == nil && tok.ReplacedBy == "" && (tok.ExpiresAt == nil || tok.ExpiresAt.Before(now.Add(DefaultTokenTTL))) {
		exp := now.Add(DefaultTokenTTL)
		if _, err := s.NewUpdate().Model((*Token)(nil)).Set("expires_at = ?", exp).Where("id = ?", tok.ID).Exec(ctx); err != nil {
			return nil, fmt.Errorf("issue token: renew %s: %w", tok.ID, err)
		}
		tok.ExpiresAt = &exp
	}
	return tok, nil
}

// checkBearer validates who a token is for: a partner token needs an existing active partner, a manager
// token no partner.
func (s *Store) checkBearer(ctx context.Context, role Role, partnerID string) error {
	switch role {
	case RoleManager:
		if partnerID != "" {
			return fmt.Errorf("manager token with partner id: %w", ErrInvalid)
		}
	case RolePartner:
		p, err := s.GetPartner(ctx, partnerID)
		if err != nil {
			return err
		}
		if !p.Active {
			return fmt.Errorf("partner %s disabled: %w", partnerID, ErrNotFound)
		}
	default:
		return fmt.Errorf("role %q: %w", role, ErrInvalid)
	}
	return nil
}

func newToken(role Role, partnerID, name, secret string, now time.Time, ttl time.Duration) *Token {
	exp := now.Add(ttl)
	return &Token{ID: newTokenID(), Hash: HashSecret(secret), Role: role, PartnerID: partnerID, Name: name, CreatedAt: now, ExpiresAt: &exp}
}

// insertToken stores tok unless its secret's hash is stored already: then the stored token is returned,
// or ErrConflict when it is another role's or partner's.
func insertToken(ctx context.Context, idb bun.IDB, tok *Token) (*Token, error) {
	res, err := idb.NewInsert().Model(tok).On("CONFLICT (hash) DO NOTHING").Exec(ctx)
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
	if err := idb.NewSelect().Model(stored).Where("hash = ?", tok.Hash).Scan(ctx); err != nil {
		return nil, notFound(err, "get token")
	}
	if stored.Role != tok.Role || stored.PartnerID != tok.PartnerID {
		return nil, fmt.Errorf("secret in use by token %s: %w", stored.ID, ErrConflict)
	}
	return stored, nil
}

// Authenticate is AuthenticateAt now.
func (s *Store) Authenticate(ctx context.Context, secret string) (*Token, error) {
	return s.AuthenticateAt(ctx, secret, time.Now())
}

// AuthenticateAt returns the token for secret if it may authenticate at now. An unknown secret is
// ErrNotFound; a revoked or expired token (a rotated one after its grace period), or one of a disabled or
// deleted partner, is a *TokenRefusal saying which (each wraps ErrNotFound too). The secret is hashed
// before the lookup, so the database compares digests, never the secret. Every call reads the database:
// a revocation or a partner's disabling holds on the very next request, in every process.
func (s *Store) AuthenticateAt(ctx context.Context, secret string, now time.Time) (*Token, error) {
	hash := HashSecret(secret)
	tok := new(Token)
	err := s.NewSelect().Model(tok).ColumnExpr("token.*").
		ColumnExpr("COALESCE((SELECT p.active FROM partners AS p WHERE p.id = token.partner_id), FALSE) AS partner_active").
		Where("token.hash = ?", hash).
		Scan(ctx)
	if err != nil {
		return nil, notFound(err, "authenticate")
	}
	if subtle.ConstantTimeCompare([]byte(tok.Hash), []byte(hash)) != 1 {
		return nil, fmt.Errorf("authenticate: %w", ErrNotFound)
	}
	switch tok.State(now) {
	case TokenRevoked:
		return nil, &TokenRefusal{Reason: ErrTokenRevoked, Token: *tok}
	case TokenExpired:
		return nil, &TokenRefusal{Reason: ErrTokenExpired, Token: *tok}
	}
	if tok.Role == RolePartner && !tok.PartnerActive {
		return nil, &TokenRefusal{Reason: ErrPartnerDisabled, Token: *tok}
	}
	return tok, nil
}

// GetToken returns the token with id, or ErrNotFound.
func (s *Store) GetToken(ctx context.Context, id string) (*Token, error) {
	tok := new(Token)
	if err := s.NewSelect().Model(tok).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, notFound(err, "get token %s", id)
	}
	return tok, nil
}

// RotateToken issues a successor of token id — same role, partner and name, valid for ttl from now — and
// returns its secret. The old token stays valid for grace (zero: no longer), never past its own expiry,
// and names its successor. Only a token that may authenticate now can be rotated, once: a revoked, expired
// or already rotated one is ErrConflict (rotate its successor instead); an unknown id ErrNotFound; a
// disabled partner's token ErrNotFound, as IssueToken.
func (s *Store) RotateToken(ctx context.Context, id string, grace, ttl time.Duration, now time.Time) (string, *Token, error) {
	if grace < 0 || ttl <= 0 {
		return "", nil, fmt.Errorf("rotate token %s: grace %s, ttl %s: %w", id, grace, ttl, ErrInvalid)
	}
	now = now.UTC()
	old, err := s.GetToken(ctx, id)
	if err != nil {
		return "", nil, fmt.Errorf("rotate token: %w", err)
	}
	switch st := old.State(now); st {
	case TokenLive:
	case TokenRotated:
		return "", nil, fmt.Errorf("rotate token %s: already rotated to %s; rotate that one: %w", id, old.ReplacedBy, ErrConflict)
	default:
		return "", nil, fmt.Errorf("rotate token %s: %s; issue a new one: %w", id, st, ErrConflict)
	}
	if err := s.checkBearer(ctx, old.Role, old.PartnerID); err != nil {
		return "", nil, fmt.Errorf("rotate token %s: %w", id, err)
	}
	secret := NewTokenSecret()
	next := newToken(old.Role, old.PartnerID, old.Name, secret, now, ttl)
	until := now.Add(grace)
	if old.ExpiresAt != nil && old.ExpiresAt.Before(until) {
		until = *old.ExpiresAt
	}
	err = s.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// The conditions make a rotation racing another, or a revocation, lose rather than fork the token.
		res, err := tx.NewUpdate().Model((*Token)(nil)).Set("replaced_by = ?", next.ID).Set("expires_at = ?", until).
			Where("id = ?", id).Where("replaced_by = ''").Where("revoked_at IS NULL").Exec(ctx)
		if err != nil {
			return err
		}
		if n, err := rowsAffected(res); err != nil || n != 1 {
			return fmt.Errorf("changed meanwhile (rotated or revoked): %w", ErrConflict)
		}
		_, err = insertToken(ctx, tx, next)
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("rotate token %s: %w", id, err)
	}
	return secret, next, nil
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
