INSERT INTO users (username, username_key, email, password_hash, usercode, created_at)
SELECT 'u'||g, 'u'||g, 'u'||g||'@x', 'x', lpad(g::text, 6, '0'), now() FROM generate_series(1,1001) g;
CREATE OR REPLACE PROCEDURE exp_bcast(iters int, mode int) LANGUAGE plpgsql AS $$
DECLARE
  ids bigint[] := ARRAY(SELECT id FROM users WHERE id > 1 ORDER BY id);
  mid varchar;
  base bigint[];
BEGIN
  FOR it IN 1..iters LOOP
    mid := gen_random_uuid()::text;
    PERFORM set_config('messager.references_checked', 'on', true);
    IF mode >= 1 THEN
      PERFORM 1 FROM users WHERE users.id = ANY(ids) ORDER BY users.id FOR NO KEY UPDATE;
    END IF;
    IF mode >= 2 THEN
      WITH up AS (UPDATE users SET last_seq = users.last_seq + 1 WHERE users.id = ANY(ids) RETURNING users.id, users.last_seq - 1 AS b)
      SELECT array_agg(up.b ORDER BY up.id) INTO base FROM up;
    ELSE
      base := ARRAY(SELECT 0::bigint FROM unnest(ids));
    END IF;
    IF mode >= 3 THEN
      INSERT INTO messages (id, sender_id, to_id, body, broadcast, client_id, created_at, sender_seq) VALUES (mid, 1, NULL, 'hello everyone', true, NULL, now(), 0);
      INSERT INTO message_recipients (message_id, recipient_id, seq, created_at)
      SELECT mid, ids[k], base[k] + 1 + it*0, now() FROM generate_subscripts(ids, 1) AS k;
    END IF;
    COMMIT;
  END LOOP;
END $$;
