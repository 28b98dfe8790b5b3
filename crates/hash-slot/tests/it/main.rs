//! hash-slot against the cluster specification and against a real server's `CLUSTER KEYSLOT`.
//!
//! Every expected slot below was read from `CLUSTER KEYSLOT` of Redis 7.0.

mod vectors {
    use hash_slot::{Slot, crc16_xmodem, hash_tag};

    fn check(key: &[u8], expected: u16) {
        assert_eq!(
            Slot::for_key(key).get(),
            expected,
            "slot of {:?}",
            String::from_utf8_lossy(key)
        );
    }

    fn check_tag(key: &[u8], hashed: &[u8]) {
        assert_eq!(
            hash_tag(key),
            hashed,
            "hash tag of {:?}",
            String::from_utf8_lossy(key)
        );
        assert_eq!(
            Slot::for_key(key),
            Slot::for_key(hashed),
            "slot of {:?}",
            String::from_utf8_lossy(key)
        );
    }

    #[test]
    fn crc16_matches_the_specification() {
        // The check value of CRC16-XMODEM, quoted by the cluster specification.
        assert_eq!(crc16_xmodem(b"123456789"), 0x31C3);
        assert_eq!(crc16_xmodem(b""), 0);
        assert_eq!(crc16_xmodem(b"\0"), 0);
    }

    #[test]
    fn plain_keys() {
        check(b"foo", 12182);
        check(b"bar", 5061);
        check(b"hello", 866);
        check(b"123456789", 12739); // 0x31C3 is below 16384, so the slot is the CRC itself.
        check(b"a", 15495);
        check(b"b", 3300);
        check(b"user1000", 3443);
    }

    #[test]
    fn empty_and_binary_keys() {
        check(b"", 0);
        check(b"\0", 0);
        check(b"\xff", 7920);
        check(b"k\0\xff", 13674);
        check(b"{\0}x", 0);
    }

    #[test]
    fn hash_tags() {
        // Only the part between the first `{` and the first `}` after it is hashed.
        check_tag(b"{user1000}.following", b"user1000");
        check_tag(b"{user1000}.followers", b"user1000");
        check(b"{user1000}.following", 3443);
        // The first `}` after the first `{` closes the tag: `{{a}}` hashes `{a`.
        check_tag(b"{{a}}", b"{a");
        check(b"{{a}}", 10276);
        check(b"{a", 10276);
        // Only the first tag counts.
        check_tag(b"a{b}c{d}", b"b");
        check(b"a{b}c{d}", 3300);
        // A `}` before the first `{` is an ordinary byte.
        check_tag(b"}{a}", b"a");
        check(b"}{a}", 15495);
        // A tag with a binary byte.
        check_tag(b"{\0}x", b"\0");
    }

    #[test]
    fn keys_without_a_usable_tag_hash_whole() {
        // An empty tag means the whole key is hashed, even when a later tag is not empty.
        check_tag(b"{}", b"{}");
        check(b"{}", 15257);
        check_tag(b"{}a", b"{}a");
        check(b"{}a", 10875);
        check_tag(b"{}{a}", b"{}{a}");
        check(b"{}{a}", 13650);
        check_tag(b"a{}b{c}", b"a{}b{c}");
        check(b"a{}b{c}", 7353);
        // An unclosed `{`, or a lone `}`.
        check_tag(b"{", b"{");
        check(b"{", 4092);
        check_tag(b"}", b"}");
        check(b"}", 12090);
        check_tag(b"\xff{\0", b"\xff{\0");
    }
}

mod properties {
    use hash_slot::{Slot, crc16_xmodem};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn keys_sharing_a_tag_share_a_slot(
            tag in proptest::collection::vec(any::<u8>().prop_filter("no }", |b| *b != b'}'), 1..32),
            x in proptest::collection::vec(any::<u8>(), 0..16),
            y in proptest::collection::vec(any::<u8>(), 0..16),
        ) {
            let key = |suffix: &[u8]| [b"{", tag.as_slice(), b"}", suffix].concat();
            prop_assert_eq!(Slot::for_key(&key(&x)), Slot::for_key(&key(&y)));
            prop_assert_eq!(Slot::for_key(&key(&x)), Slot::for_key(&tag));
        }

        #[test]
        fn keys_without_braces_hash_whole(key in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assume!(!key.contains(&b'{'));
            prop_assert_eq!(Slot::for_key(&key).get(), crc16_xmodem(&key) % Slot::COUNT);
        }

        #[test]
        fn every_slot_is_in_range(key in proptest::collection::vec(any::<u8>(), 0..64)) {
            let slot = Slot::for_key(&key);
            prop_assert!(slot.get() < Slot::COUNT);
            prop_assert_eq!(Slot::new(slot.get()), Some(slot));
        }
    }
}

mod server {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    use hash_slot::Slot;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use test_support::shared_cluster;

    /// `CLUSTER KEYSLOT <key>` in RESP, written here so the check shares no code with the crates under test.
    fn encode_keyslot(out: &mut Vec<u8>, key: &[u8]) {
        out.extend_from_slice(b"*3\r\n$7\r\nCLUSTER\r\n$7\r\nKEYSLOT\r\n");
        out.extend_from_slice(format!("${}\r\n", key.len()).as_bytes());
        out.extend_from_slice(key);
        out.extend_from_slice(b"\r\n");
    }

    /// Reads one `:<n>\r\n` integer reply.
    fn read_integer(reader: &mut impl BufRead) -> i64 {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let n = line
            .strip_prefix(':')
            .and_then(|rest| rest.strip_suffix("\r\n"));
        n.and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not an integer reply: {line:?}"))
    }

    /// Keys sent per pipelined batch: large enough that round trips do not dominate,
    /// small enough that neither side buffers much.
    const BATCH: usize = 1000;

    fn random_bytes(rng: &mut StdRng, max_len: usize) -> Vec<u8> {
        let len = rng.random_range(0..=max_len);
        // Mostly printable bytes with braces, sometimes any byte, so tags, NULs and 0xff all occur.
        (0..len)
            .map(|_| match rng.random_range(0..10) {
                0 => b'{',
                1 => b'}',
                2 => rng.random(),
                _ => rng.random_range(b'a'..=b'z'),
            })
            .collect()
    }

    fn random_key(rng: &mut StdRng) -> Vec<u8> {
        match rng.random_range(0..4) {
            // An explicit tag with random text around it.
            0 => [
                random_bytes(rng, 6),
                b"{".to_vec(),
                random_bytes(rng, 8),
                b"}".to_vec(),
                random_bytes(rng, 6),
            ]
            .concat(),
            _ => random_bytes(rng, 40),
        }
    }

    #[test]
    fn ten_thousand_random_keys_match_cluster_keyslot() {
        let seed: u64 = rand::rng().random();
        let mut rng = StdRng::seed_from_u64(seed);
        let keys: Vec<Vec<u8>> = (0..10_000).map(|_| random_key(&mut rng)).collect();

        let addr = shared_cluster().node(0).addr();
        let started = Instant::now();
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let mut mismatches = Vec::new();
        let mut out = Vec::new();
        for chunk in keys.chunks(BATCH) {
            out.clear();
            for key in chunk {
                encode_keyslot(&mut out, key);
            }
            writer.write_all(&out).unwrap();
            for key in chunk {
                let expected = read_integer(&mut reader);
                if i64::from(Slot::for_key(key).get()) != expected {
                    mismatches.push((key.clone(), expected));
                }
            }
        }
        assert!(
            mismatches.is_empty(),
            "seed {seed}: {} mismatches, first {:?}",
            mismatches.len(),
            &mismatches[..1]
        );
        assert!(
            keys.iter().any(|k| k.contains(&0) || k.contains(&0xff)),
            "seed {seed}: no binary key"
        );
        eprintln!(
            "10,000 keys checked against CLUSTER KEYSLOT in {:?}",
            started.elapsed()
        );
    }
}
