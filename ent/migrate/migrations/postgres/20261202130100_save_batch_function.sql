-- messager_save_batch saves one commit of messages in a single statement,
-- so in one round trip: the same steps internal/storage's SaveBatch took in
-- seven (begin; look up earlier attempts; lock the users; take positions;
-- insert messages; insert recipients; commit). Called on its own, the
-- statement is its own transaction.
--
-- The arguments are parallel arrays. m_*: one element per message. a_*:
-- one per audience entry, i.e. who sees which message, in the order
-- positions are to be given: a_msg is the message's 1-based index,
-- a_sender_copy marks the sender's own copy (kept on the message row as
-- sender_seq, not as a recipient row).
--
-- It returns (o_entry, o_seq): the 1-based audience entry and its position,
-- for every entry of each message this call inserted. A message stored by
-- an earlier attempt takes no position and returns nothing, nor does one
-- that a unique index refused (a client_id clash, a concurrent attempt):
-- the caller reads what was stored for those. A user that does not exist
-- fails the whole call with foreign_key_violation.
CREATE FUNCTION messager_save_batch(
    m_id varchar[], m_sender bigint[], m_to bigint[], m_body text[], m_broadcast boolean[],
    m_client_id varchar[], m_created_at timestamptz[],
    a_msg integer[], a_user bigint[], a_sender_copy boolean[], r_created_at timestamptz)
RETURNS TABLE (o_entry integer, o_seq bigint)
LANGUAGE plpgsql AS $$
DECLARE
    todo     integer[]; -- messages not stored by an earlier attempt
    u_id     bigint[];  -- the users given positions, in id order,
    u_n      bigint[];  -- how many each,
    u_base   bigint[];  -- and each one's last position before this call
    e_entry  integer[]; -- the audience entries of todo, in order,
    e_seq    bigint[];  -- and their positions
    ins_idx  integer[]; -- messages this call inserted
BEGIN
    -- Every statement here reads the tables through their unique indexes
    -- only, keyed by the arrays: PL/pgSQL caches generic plans, which must
    -- not turn into scans of tables that grow with every message.
    SELECT coalesce(array_agg(t.i ORDER BY t.i), '{}') INTO todo
    FROM unnest(m_id) WITH ORDINALITY AS t(id, i)
    WHERE t.id <> ALL (ARRAY(SELECT m.id FROM messages m WHERE m.id = ANY(m_id)));

    SELECT coalesce(array_agg(c.u ORDER BY c.u), '{}'), coalesce(array_agg(c.n ORDER BY c.u), '{}') INTO u_id, u_n
    FROM (SELECT a.u, count(*) AS n FROM unnest(a_msg, a_user) AS a(mi, u) WHERE a.mi = ANY(todo) GROUP BY a.u) c;

    -- Lock in id order first: an UPDATE locks rows in whatever order its
    -- plan meets them, and two commits sharing users would deadlock. FOR NO
    -- KEY UPDATE does not block other transactions' foreign-key checks.
    PERFORM 1 FROM users WHERE users.id = ANY(u_id) ORDER BY users.id FOR NO KEY UPDATE;

    WITH up AS (
        UPDATE users SET last_seq = users.last_seq + c.n FROM unnest(u_id, u_n) AS c(u, n) WHERE users.id = c.u
        RETURNING users.id, users.last_seq - c.n AS base
    )
    SELECT coalesce(array_agg(up.base ORDER BY up.id), '{}') INTO u_base FROM up;
    IF cardinality(u_base) <> cardinality(u_id) THEN
        RAISE EXCEPTION 'a sender or recipient does not exist' USING ERRCODE = 'foreign_key_violation';
    END IF;

    -- Each user's positions are consecutive, in audience entry order.
    SELECT coalesce(array_agg(p.k ORDER BY p.k), '{}'), coalesce(array_agg(p.s ORDER BY p.k), '{}')
    INTO e_entry, e_seq
    FROM (
        SELECT a.k::integer AS k, b.base + row_number() OVER (PARTITION BY a.u ORDER BY a.k) AS s
        FROM unnest(a_msg, a_user) WITH ORDINALITY AS a(mi, u, k)
        JOIN unnest(u_id, u_base) AS b(id, base) ON b.id = a.u
        WHERE a.mi = ANY(todo)
    ) p;

    WITH ins AS (
        INSERT INTO messages (id, sender_id, to_id, body, broadcast, client_id, created_at, sender_seq)
        SELECT m_id[t.i], m_sender[t.i], m_to[t.i], m_body[t.i], m_broadcast[t.i], m_client_id[t.i],
               m_created_at[t.i], coalesce(sc.s, 0)
        FROM unnest(todo) AS t(i)
        LEFT JOIN (
            SELECT a_msg[x.e] AS mi, x.s FROM unnest(e_entry, e_seq) AS x(e, s) WHERE a_sender_copy[x.e]
        ) sc ON sc.mi = t.i
        ON CONFLICT DO NOTHING
        RETURNING messages.id
    )
    SELECT coalesce(array_agg(t.i), '{}') INTO ins_idx
    FROM ins JOIN unnest(m_id) WITH ORDINALITY AS t(id, i) ON t.id = ins.id;

    INSERT INTO message_recipients (message_id, recipient_id, seq, created_at)
    SELECT m_id[a_msg[x.e]], a_user[x.e], x.s, r_created_at
    FROM unnest(e_entry, e_seq) AS x(e, s)
    JOIN unnest(ins_idx) AS ii(i) ON ii.i = a_msg[x.e]
    WHERE NOT a_sender_copy[x.e];

    RETURN QUERY
    SELECT x.e, x.s FROM unnest(e_entry, e_seq) AS x(e, s)
    JOIN unnest(ins_idx) AS ii(i) ON ii.i = a_msg[x.e]
    ORDER BY x.e;
END
$$;
