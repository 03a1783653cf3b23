package storage_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/messager/messager/internal/storage"
	"github.com/messager/messager/internal/testenv"
)

func seqIDs(ps []storage.MailboxEntry) (ids []string, seqs []int64) {
	for _, p := range ps {
		ids, seqs = append(ids, p.Message.ID), append(seqs, p.Seq)
	}
	return ids, seqs
}

// A message saved after a newer one (a re-leased task, an outage) comes
// after it in the mailbox, so resuming after the newer one returns it.
func TestMailbox_ResumeFollowsSaveOrderNotIDOrder(t *testing.T) {
	db := testenv.DB(t)
	u := makeUsers(t, db, 2)
	s := db.Messages()
	ctx := context.Background()
	late, early := dm(1, u[0], u[1]), dm(2, u[0], u[1])
	mustSave(t, s, early) // the newer id is saved first
	mustSave(t, s, late)

	for _, who := range []storage.User{u[1], u[0]} { // recipient and sender
		pos, err := s.Resume(ctx, who.ID, early.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Since(ctx, who.ID, pos, 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		if ids, _ := seqIDs(got); !slices.Equal(ids, []string{late.ID}) {
			t.Fatalf("user %d: after %s got %v, want only the late %s", who.ID, early.ID, ids, late.ID)
		}
		if received := who.ID == u[1].ID; got[0].Message.Received != received {
			t.Fatalf("user %d: Received = %v, want %v (it carries read_at: null when unread)", who.ID, got[0].Message.Received, received)
		}
		if head, _ := s.Head(ctx, who.ID); head != 2 {
			t.Fatalf("user %d: head %d, want 2", who.ID, head)
		}
	}
	// Since with an upper bound reads just the gap.
	got, err := s.Since(ctx, u[1].ID, 0, 2, 50)
	if ids, seqs := seqIDs(got); err != nil || !slices.Equal(ids, []string{early.ID}) || !slices.Equal(seqs, []int64{1}) {
		t.Fatalf("Since(0, 2) = %v %v, %v; want [%s] [1]", ids, seqs, err, early.ID)
	}
}

// A cursor that is not one of the user's messages resumes conservatively:
// nothing with a greater id is skipped.
func TestMailbox_ResumeFromAForeignIDSkipsNothingNewer(t *testing.T) {
	db := testenv.DB(t)
	u := makeUsers(t, db, 3)
	s := db.Messages()
	ctx := context.Background()
	mustSave(t, s, dm(3, u[0], u[1]))
	mustSave(t, s, dm(1, u[0], u[1]))
	mustSave(t, s, dm(2, u[0], u[2])) // not u[1]'s
	pos, err := s.Resume(ctx, u[1].ID, msgID(2))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.Since(ctx, u[1].ID, pos, 0, 50)
	if ids, _ := seqIDs(got); !slices.Contains(ids, msgID(3)) {
		t.Fatalf("resume after a foreign id skipped a newer message: got %v", ids)
	}
}

// Concurrent batches that share users, in every order, never deadlock, and
// each user's positions are taken once each: 1..n with no repeat.
func TestSaveBatch_ConcurrentBatchesTakeDistinctPositions(t *testing.T) {
	db := testenv.DB(t)
	u := makeUsers(t, db, 6)
	s := db.Messages()
	ctx := context.Background()
	const writers, perWriter = 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				n := 1 + w*perWriter + i
				from := u[(w+i)%len(u)]
				var to []storage.User
				for k := len(u) - 1; k >= 0; k-- { // reverse order on purpose
					if u[(k+w)%len(u)].ID != from.ID {
						to = append(to, u[(k+w)%len(u)])
					}
				}
				b := broadcast(n, from, to...)
				b.Body = fmt.Sprintf("w%d i%d", w, i)
				if _, err := s.SaveBatch(ctx, []storage.NewMessage{b, dm(1000+n, to[0], from)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, who := range u {
		got, err := s.Since(ctx, who.ID, 0, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		_, seqs := seqIDs(got)
		for i, seq := range seqs {
			if seq != int64(i+1) {
				t.Fatalf("user %d positions %v: not 1..%d", who.ID, seqs, len(seqs))
			}
		}
		if head, _ := s.Head(ctx, who.ID); head != int64(len(seqs)) {
			t.Fatalf("user %d head %d, %d messages", who.ID, head, len(seqs))
		}
	}
}

// History is newest first in mailbox order: a message saved after a newer
// one (a re-leased task, an outage) is newer in history too, as the
// user's stream delivered it. A message to oneself is listed once.
func TestHistory_FollowsSaveOrderNotIDOrder(t *testing.T) {
	db := testenv.DB(t)
	u := makeUsers(t, db, 2)
	s := db.Messages()
	late, early, self := dm(1, u[0], u[1]), dm(2, u[0], u[1]), dm(3, u[1], u[1])
	mustSave(t, s, early) // the newer id is saved first
	mustSave(t, s, late)
	mustSave(t, s, self)
	for who, want := range map[storage.User][]string{
		u[0]: {late.ID, early.ID},
		u[1]: {self.ID, late.ID, early.ID},
	} {
		wantHistory(t, s, who.ID, want)
	}
}

// Messages saved before positions existed (position 0) are the oldest of
// a mailbox, in id order, and pages run across the boundary.
func TestHistory_MessagesWithoutPositionsComeLastInIDOrder(t *testing.T) {
	db := testenv.DB(t)
	u := makeUsers(t, db, 2)
	s := db.Messages()
	ctx := context.Background()
	// As the code before positions wrote them: no seq, no sender_seq.
	for _, n := range []int{8, 9, 7} {
		from, to := u[n%2], u[1-n%2]
		if _, err := db.Ent().Message.Create().SetID(msgID(n)).SetSenderID(from.ID).SetToID(to.ID).
			SetBody(fmt.Sprint("old ", n)).SetCreatedAt(epoch).Save(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Ent().MessageRecipient.Create().SetMessageID(msgID(n)).SetRecipientID(to.ID).Save(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mustSave(t, s, dm(2, u[0], u[1])) // lower ids, saved later: newer
	mustSave(t, s, dm(1, u[1], u[0]))
	want := []string{msgID(1), msgID(2), msgID(9), msgID(8), msgID(7)}
	for _, who := range u {
		wantHistory(t, s, who.ID, want)
	}
}

// A history cursor names one of the user's messages; any other id is
// ErrNotFound, not a page of something else.
func TestHistory_ACursorNotInTheMailboxIsNotFound(t *testing.T) {
	db := testenv.DB(t)
	u := makeUsers(t, db, 3)
	s := db.Messages()
	mustSave(t, s, dm(1, u[0], u[1]))
	for _, id := range []string{msgID(1), msgID(2)} { // not u[2]'s; not stored
		if _, err := s.History(context.Background(), u[2].ID, id, 10); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("History(before %s) of a stranger: err %v, want ErrNotFound", id, err)
		}
	}
}

// wantHistory checks that userID's whole history, read a page of each
// size up to len(want) at a time, is want.
func wantHistory(t *testing.T, s *storage.Messages, userID int, want []string) {
	t.Helper()
	for limit := 1; limit <= len(want); limit++ {
		if got := historyPages(t, s, userID, limit); !slices.Equal(got, want) {
			t.Fatalf("user %d limit %d: history %v, want %v", userID, limit, got, want)
		}
	}
}

// historyPages reads userID's whole history a page of limit at a time and
// returns the ids, newest first.
func historyPages(t *testing.T, s *storage.Messages, userID, limit int) []string {
	t.Helper()
	var got []string
	before := ""
	for page := 0; ; page++ {
		ms, err := s.History(context.Background(), userID, before, limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) > limit {
			t.Fatalf("limit %d: page of %d", limit, len(ms))
		}
		if len(ms) == 0 {
			return got
		}
		got = append(got, idsOf(ms)...)
		before = ms[len(ms)-1].ID
		if page > 20 {
			t.Fatal("paging does not end")
		}
	}
}
