package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// SessionID names the session of token without revealing it: the hex
// SHA-256 the session store keys it by. Streams are indexed by it, and a
// logout is announced to every pod with it, never with the token.
func SessionID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// sessionKeyPrefix is what sessionKey puts before SessionID.
const sessionKeyPrefix = "messager:session:"

// Ended returns those of sessionIDs (SessionID) whose session no longer
// exists: logged out, deleted or expired. It reads without touching, so
// asking does not extend a session. One pipelined round trip (EXISTS per
// key, so it works on Redis Cluster too).
func (s *RedisSessions) Ended(ctx context.Context, sessionIDs []string) ([]string, error) {
	if len(sessionIDs) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(sessionIDs))
	for i, id := range sessionIDs {
		if strings.ContainsAny(id, ": ") {
			return nil, fmt.Errorf("check sessions: %q is not a session id", id)
		}
		cmds[i] = pipe.Exists(ctx, sessionKeyPrefix+id)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("check sessions: %w", err)
	}
	var ended []string
	for i, c := range cmds {
		if c.Val() == 0 {
			ended = append(ended, sessionIDs[i])
		}
	}
	return ended, nil
}
