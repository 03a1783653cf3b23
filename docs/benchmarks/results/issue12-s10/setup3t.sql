CREATE OR REPLACE PROCEDURE exp_bcast_f(iters int, mode int) LANGUAGE plpgsql AS $$
DECLARE
  uids bigint[] := ARRAY(SELECT id FROM users ORDER BY id);
  n int := cardinality(uids);
  ones bigint[] := array_fill(1::bigint, ARRAY[n]);
  amsg int[] := array_fill(1, ARRAY[n]);
  auidx int[] := ARRAY(SELECT generate_series(1, n));
  arec boolean[] := array_fill(true, ARRAY[n]);
  r record;
BEGIN
  arec[1] := false;
  FOR it IN 1..iters LOOP
    SELECT * INTO r FROM messager_save_batch(ARRAY[(to_char(clock_timestamp(), 'YYYYMMDDHH24MISSUS') || substr(gen_random_uuid()::text, 1, 16))::varchar], ARRAY[1::bigint], ARRAY[NULL::bigint], ARRAY['hello everyone'], ARRAY[true],
      ARRAY[NULL::varchar], ARRAY[now()], ARRAY[1], uids, ones, amsg, auidx, ones, arec, now());
    COMMIT;
  END LOOP;
END $$;
