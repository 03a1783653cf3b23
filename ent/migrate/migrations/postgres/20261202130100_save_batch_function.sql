-- messager_save_batch saves one commit of messages in a single statement,
-- so in one round trip: the steps internal/storage's SaveBatch took in
-- seven (begin; look up earlier attempts; lock the users; take positions;
-- insert messages; insert recipients; commit). Called on its own, the
-- statement is its own transaction. The caller computes everything that
-- needs no table (who sees what, in which order), so the function only
-- locks, counts and writes.
--
-- Arguments are parallel arrays, indexes 1-based:
--   m_*: one element per message; m_sender_entry is the audience entry of
--        the sender's own copy (kept on the message row as sender_seq, not
--        as a recipient row), 0 when the sender is also a recipient;
--   u_*: one per user given positions, in ascending id order, distinct:
--        u_n is how many;
--   a_*: one per audience entry (who sees which message): a_msg is the
--        message, a_uidx the user (an index into u_id), a_rank the entry's
--        place among that user's entries (1, 2, …), a_recipient false for
--        the sender's own copy.
-- The entry's position in its user's mailbox is the user's last position
-- before this call plus a_rank.
--
-- It returns the users' last positions before this call, in u_id order,
-- and the messages it inserted, both as comma-separated lists. A message
-- stored by an earlier attempt, or refused by a unique index (a client_id
-- clash, a concurrent attempt), is not inserted: the positions reserved for
-- it stay unused (readers treat them as empty places) and the caller reads
-- what was stored for it. A user that does not exist fails the whole call
-- with foreign_key_violation.
--
-- Every statement reads the tables through their unique indexes only:
-- PL/pgSQL caches generic plans, which must not scan tables that grow.
CREATE FUNCTION messager_save_batch(
    m_id varchar[], m_sender bigint[], m_to bigint[], m_body text[], m_broadcast boolean[],
    m_client_id varchar[], m_created_at timestamptz[], m_sender_entry integer[],
    u_id bigint[], u_n bigint[],
    a_msg integer[], a_uidx integer[], a_rank bigint[], a_recipient boolean[], r_created_at timestamptz,
    OUT o_base text, OUT o_inserted text)
LANGUAGE plpgsql AS $$
DECLARE
    base     bigint[];
    inserted integer[];
BEGIN
    -- Lock in id order first: an UPDATE locks rows in whatever order its
    -- plan meets them, and two commits sharing users would deadlock. FOR NO
    -- KEY UPDATE does not block other transactions' foreign-key checks.
    PERFORM 1 FROM users WHERE users.id = ANY(u_id) ORDER BY users.id FOR NO KEY UPDATE;

    WITH up AS (
        UPDATE users SET last_seq = users.last_seq + c.n FROM unnest(u_id, u_n) AS c(u, n) WHERE users.id = c.u
        RETURNING users.id, users.last_seq - c.n AS b
    )
    SELECT array_agg(up.b ORDER BY up.id) INTO base FROM up;
    IF coalesce(cardinality(base), 0) <> cardinality(u_id) THEN
        RAISE EXCEPTION 'a sender or recipient does not exist' USING ERRCODE = 'foreign_key_violation';
    END IF;

    WITH ins AS (
        INSERT INTO messages (id, sender_id, to_id, body, broadcast, client_id, created_at, sender_seq)
        SELECT m_id[i], m_sender[i], m_to[i], m_body[i], m_broadcast[i], m_client_id[i], m_created_at[i],
               CASE WHEN m_sender_entry[i] > 0 THEN base[a_uidx[m_sender_entry[i]]] + a_rank[m_sender_entry[i]] ELSE 0 END
        FROM generate_subscripts(m_id, 1) AS i
        ON CONFLICT DO NOTHING
        RETURNING messages.id
    )
    SELECT coalesce(array_agg(t.i ORDER BY t.i), '{}') INTO inserted
    FROM ins JOIN unnest(m_id) WITH ORDINALITY AS t(id, i) ON t.id = ins.id;

    INSERT INTO message_recipients (message_id, recipient_id, seq, created_at)
    SELECT m_id[a_msg[k]], u_id[a_uidx[k]], base[a_uidx[k]] + a_rank[k], r_created_at
    FROM generate_subscripts(a_msg, 1) AS k
    JOIN unnest(inserted) AS ii(i) ON ii.i = a_msg[k]
    WHERE a_recipient[k];

    o_base := array_to_string(base, ',');
    o_inserted := array_to_string(inserted, ',');
END
$$;
