/*
 * HandshakeState: known-answer conversations from the standard vectors,
 * tampering, truncation, state misuse, PSK and prologue mismatches.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "noise_test.h"

/* ---- Known answers ------------------------------------------------------ */

typedef struct kat {
  const char *name;
  const char *init_prologue, *init_static, *init_ephemeral,
      *init_remote_static, *init_psk[4];
  const char *resp_prologue, *resp_static, *resp_ephemeral,
      *resp_remote_static, *resp_psk[4];
  const char *handshake_hash;
  int fallback;
  size_t n_msgs;
  struct {
    const char *payload, *ciphertext;
  } msgs[8];
} kat;

/* Copied byte for byte from ../shared/vectors (file named per entry). */
static const kat kats[] = {
  {
    /* cacophony.json, Noise_XX_25519_ChaChaPoly_BLAKE2b */
    .name = "Noise_XX_25519_ChaChaPoly_BLAKE2b",
    .init_prologue = "4a6f686e2047616c74",
    .init_static = "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
    .init_ephemeral = "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
    .init_remote_static = NULL,
    .resp_prologue = "4a6f686e2047616c74",
    .resp_static = "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
    .resp_ephemeral = "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
    .resp_remote_static = NULL,
    .handshake_hash = "8cf47d7b3cb5804c0109d48e8bcdbee2cbb65687d8ea2c92994ca361fb86151ad93627b98936cbb32de56e8abb21def3925011ac3e35db9cbeea73ab9a4392c2",
    .fallback = 0,
    .n_msgs = 6,
    .msgs = {
      {"4c756477696720766f6e204d69736573",
       "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e204d69736573"},
      {"4d757272617920526f746862617264",
       "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f1448088430505b6745ce64a5f33f0e8e3b83f11ce8802bca507f4f2d8b564dbe277e1966116e132faa2dfd70b8b077b9f94b913df5056ae1319469b824a98d54bbaa82c325595587064f978c4b6d104f7596e6f"},
      {"462e20412e20486179656b",
       "99579e1c1ee15e422a57ddd6b16d37087b17558e8369c18991b4b2ca3a824abf904cdcf5458b5431a75af034ca9e9b982de039eaaf156775e2d580cd4e5ebae89c3f8cb2594b556d8a8169"},
      {"4361726c204d656e676572",
       "fc56eea290b3f3a21aac0c70cd5787b5ee99be37d2f4d751329b55"},
      {"4a65616e2d426170746973746520536179",
       "bb31c9da10d5639a4cdb88a12f5c61de41bbc7df09bf75d94f8184fe4157f5c68f"},
      {"457567656e2042f6686d20766f6e2042617765726b",
       "f6199cadb152fb27f82be0a0891ec76a33598ae92a46cab2fb5a8ed5bf48b7f267f8370af7"},
    },
  },
  {
    /* cacophony.json, Noise_IKpsk2_25519_ChaChaPoly_SHA256 */
    .name = "Noise_IKpsk2_25519_ChaChaPoly_SHA256",
    .init_prologue = "4a6f686e2047616c74",
    .init_static = "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
    .init_ephemeral = "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
    .init_remote_static = "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62",
    .init_psk[0] = "54686973206973206d7920417573747269616e20706572737065637469766521",
    .resp_prologue = "4a6f686e2047616c74",
    .resp_static = "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
    .resp_ephemeral = "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
    .resp_remote_static = NULL,
    .resp_psk[0] = "54686973206973206d7920417573747269616e20706572737065637469766521",
    .handshake_hash = "8310f86394dc0dabb40beb8210031556db4403ab1202db7034c526232147a700",
    .fallback = 0,
    .n_msgs = 6,
    .msgs = {
      {"4c756477696720766f6e204d69736573",
       "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79442ec9b09893d0f510791784c10cbc959f25b1766e0def6e301d14fbca1c7790ac829b8b3674f5f649a5f0e98479662cbfbf2b2c47cd4b09fcd266cd29d7cb675f1808849707847840f6d178ec4d3733aa"},
      {"4d757272617920526f746862617264",
       "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f1448088439a1b3cebf680b2c74217fcb5eba4ff58a9468cd90c4aca6194f57479b379a7"},
      {"462e20412e20486179656b",
       "a8fde7a0accec190cd306c5950d4fd8e04a205ec288aa747d8b347"},
      {"4361726c204d656e676572",
       "59caddd9984a3bbe24c4fb31a2bd455b7eba3fa0980674b1a3a5f9"},
      {"4a65616e2d426170746973746520536179",
       "3b9bfebd210c22ba0cff9de79b4007d7a552fffbf92616881faa8a883e25b80258"},
      {"457567656e2042f6686d20766f6e2042617765726b",
       "f37512df1043d564d7c46ac85c53d3b6a9a05724bc297e7142808f217561651217fe85b782"},
    },
  },
  {
    /* cacophony.json, Noise_N_25519_ChaChaPoly_SHA256 */
    .name = "Noise_N_25519_ChaChaPoly_SHA256",
    .init_prologue = "4a6f686e2047616c74",
    .init_static = NULL,
    .init_ephemeral = "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
    .init_remote_static = "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62",
    .resp_prologue = "4a6f686e2047616c74",
    .resp_static = "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
    .resp_ephemeral = NULL,
    .resp_remote_static = NULL,
    .handshake_hash = "6497ab83a10e5d03b42e6f770738f62f91584b0b589380fddff642b141af56b6",
    .fallback = 0,
    .n_msgs = 6,
    .msgs = {
      {"4c756477696720766f6e204d69736573",
       "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c794430db5925e72ccdb0333fb13bd1f920cc34627b8fe30f81383a15d67a9ba306ca"},
      {"4d757272617920526f746862617264",
       "b9546f9f6bc43ff1ab776874425ddd59a45f6294633df65c8e55ee14cbc175"},
      {"462e20412e20486179656b",
       "4732bd7c598a84a15a477ce67562f54bc4fac4ef04ea178c5796c9"},
      {"4361726c204d656e676572",
       "2fbd9d4fd39df3bbfc22b63525ba454cdd65d1cf9b3ae658612f5f"},
      {"4a65616e2d426170746973746520536179",
       "81619224c9c0d7ec75eb670b7d3154b8f97bfbd07cf0fe3df2f538b7d19dc5f21e"},
      {"457567656e2042f6686d20766f6e2042617765726b",
       "8c21c98a5236dad958a67c39829d1bfcfcb0d529af864b17902185f56f3cb7bd86998ddc29"},
    },
  },
  {
    /* cacophony.json, Noise_XX_25519_AESGCM_SHA512 */
    .name = "Noise_XX_25519_AESGCM_SHA512",
    .init_prologue = "4a6f686e2047616c74",
    .init_static = "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
    .init_ephemeral = "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
    .init_remote_static = NULL,
    .resp_prologue = "4a6f686e2047616c74",
    .resp_static = "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
    .resp_ephemeral = "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
    .resp_remote_static = NULL,
    .handshake_hash = "39f00604ced1d119476899b3cde9b7c970ef862897396f31d5df4340f2d65c58816a3e58a26f18f3d686e4c1d451129790977e56d857a86ce4b9db635b535334",
    .fallback = 0,
    .n_msgs = 6,
    .msgs = {
      {"4c756477696720766f6e204d69736573",
       "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e204d69736573"},
      {"4d757272617920526f746862617264",
       "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843fd25f21a1797f62ac8960e3b8b37ba21dfd9b202859ad8f0011a179a0054b50205997c6746578d5bd7e8a2a1a9fa068b77f36ca8b1417ec18ad342d9734eb94eb89915ce5e9768358d5e29d7c624da"},
      {"462e20412e20486179656b",
       "5daf793909ca9cd970345c1bcd7d1612278fa941d8f62761bbbe278b7a3130c6c523872960931080fd3472c0499c214f45f03bb3389cc0a181176289251c30d67f5b7a59a5920f7d1b8aed"},
      {"4361726c204d656e676572",
       "11a6e4405bf638c751b57d0714c7b5138ab09e939c345d05a7fa6b"},
      {"4a65616e2d426170746973746520536179",
       "f2b926f127ba4ba6b40dfbc86101b20bb120f8d59a5babd665824d9dee31571af4"},
      {"457567656e2042f6686d20766f6e2042617765726b",
       "3e4b185189bb0bf4b535431344ee0726726f8632ba59b78a6b0cecffdf00b7dfe28320dc05"},
    },
  },
  {
    /* snow.json, Noise_XXpsk0+psk1_25519_ChaChaPoly_BLAKE2b */
    .name = "Noise_XXpsk0+psk1_25519_ChaChaPoly_BLAKE2b",
    .init_prologue = "5468657265206973206e6f20726967687420616e642077726f6e672e2054686572652773206f6e6c792066756e20616e6420626f72696e672e",
    .init_static = "ae362bb796063309a13b11769399c7a054ec56cfbf0809e2a7bf460983cd8ce3",
    .init_ephemeral = "a56ebe81a49fee2ec7f89d160e9a96edb328e185918c8d334ee03e3738824440",
    .init_remote_static = NULL,
    .init_psk[0] = "6179c88166f0fab7b7f8bcf912bb78eb95209fe234b0bfa7614a20f1aed90a05",
    .init_psk[1] = "1cca225f20cab1a7a39cc4e30dd65952a8da3b531b06e7021ace74bb031d1e1b",
    .resp_prologue = "5468657265206973206e6f20726967687420616e642077726f6e672e2054686572652773206f6e6c792066756e20616e6420626f72696e672e",
    .resp_static = "4dd50e1f68bc31181a1037e6c181c2c330aba2bcf5271e65fdcb8979fd8ac4d7",
    .resp_ephemeral = "d1eec955c9e710c252f2c39d43718635507d5d090db04ee0d375076028d24083",
    .resp_remote_static = NULL,
    .resp_psk[0] = "6179c88166f0fab7b7f8bcf912bb78eb95209fe234b0bfa7614a20f1aed90a05",
    .resp_psk[1] = "1cca225f20cab1a7a39cc4e30dd65952a8da3b531b06e7021ace74bb031d1e1b",
    .handshake_hash = NULL,
    .fallback = 0,
    .n_msgs = 5,
    .msgs = {
      {"b7354d1a1b1dddd6f4e6a65f81e93dbba57cbe0f84ccb59f51731d36fb03e8f7",
       "7e65d175a99663f96e7f80e2b3df45133cefc25f62d7b1a8c06db04624bd5a19ca0420e22885fe7c6a7a6d74b78551a78573c516d3d05e419eb1db896c57a54593805ef4cd459c1b7d910ca8430d29bc"},
      {"f1e9ed4405faef30601cb85f90bad9a6fad1bb1f4987cc98dfa71735eb73c830",
       "dcd5ef92151cb9c16931f5c28a3d7204c0449aae14379f735f730f8366f1574401f928393e410fdb1881591b9bc0ebc92ab70ebf02099425a29bc1de64da7ec036f19652428dd9f4587a855c0bdfc7e36a26e3c017a644f121949a7673e96118a53486f0b0fb86dffc897001ff8a26f7ead9a69506b2bd5aba0ffbe611038143"},
      {"aeac9bc0f0d77e552f5bebac3f323006d2871071071c23cc7337f24863b70e28",
       "33fe1fe4c5ec5ec8c0997d97f4023267da4134b08b1d8b3b2cf4fb315d62d7771fe92271ac79bf8d471c0baa0533a63dbd0e83844f5aafc81321baf77e4938dec3c9bccfc6f14dcb7e09a15178ac325ef2e83f349cc63212d9bdf3d0cb16950a"},
      {"59563ec634ac21024fb7fa072e8a313558305f2f851e3bcddd0a26de8da3cd43",
       "b667e1471d38b23fef3ccfa3d774fe9372bd6cd1bb47e752618dc2262da4834a5905c5ebc095ad6ee9de9f2b9f8f1751"},
      {"ee6edd97ce9f484b1edbcea22fa75c14d0fd0696c9e909c03ec8306ab58d8894",
       "5e8fc6e18ad0dfd8d2ff937df94ceb8d6c599580b35bd4c7ff9bf285c26db5d54455b7ee61c8f7b28758bd0bc0571a4d"},
    },
  },
  {
    /* cacophony.json, Noise_X1K1_25519_ChaChaPoly_SHA512 */
    .name = "Noise_X1K1_25519_ChaChaPoly_SHA512",
    .init_prologue = "4a6f686e2047616c74",
    .init_static = "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
    .init_ephemeral = "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
    .init_remote_static = "31e0303fd6418d2f8c0e78b91f22e8caed0fbe48656dcf4767e4834f701b8f62",
    .resp_prologue = "4a6f686e2047616c74",
    .resp_static = "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
    .resp_ephemeral = "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
    .resp_remote_static = NULL,
    .handshake_hash = "c0f2a6cda1813b431c2d400f1c37fa511bab564e0593ade4bcf87bfdf1b77bba2e8b9ab6a157cfb9dfaa7473d20f1d9486344a0441801be88ae6c4da64a6d3e0",
    .fallback = 0,
    .n_msgs = 6,
    .msgs = {
      {"4c756477696720766f6e204d69736573",
       "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e204d69736573"},
      {"4d757272617920526f746862617264",
       "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843bacff3fb1697328ca2968ebfb580bf3e7477c62f73d8fe91f9402c8bd05864"},
      {"462e20412e20486179656b",
       "280f5dfa09ce7a35a1f54736f406c99764601f3a20fe70ff834fbc65c22e6707f0ea683089725f81113bc1da8774d9b97b286dadabb2971562e3fea0739868db077b611d9deb096223118a"},
      {"4361726c204d656e676572",
       "58aebf96912f6f521487355b01f997d32296e98e4fc8a3e570caff"},
      {"4a65616e2d426170746973746520536179",
       "b034becc144f1ec26a64989adc1d730aeeff46f614aab6d910ea8ec8a5c04d209c"},
      {"457567656e2042f6686d20766f6e2042617765726b",
       "4774bea2ef458b747b7518c8e189912e4df0f9cbafbf6c641c1884c88f9464dca20b435db5"},
    },
  },
  {
    /* noise-c-fallback.json, Noise_XXfallback_25519_ChaChaPoly_BLAKE2b */
    .name = "Noise_XXfallback_25519_ChaChaPoly_BLAKE2b",
    .init_prologue = "50726f6c6f677565313233",
    .init_static = "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
    .init_ephemeral = "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
    .init_remote_static = "f215fe4ad54b354588d3fa52166179b723b9a211ec67167b9bf1729260972a23",
    .resp_prologue = "50726f6c6f677565313233",
    .resp_static = "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
    .resp_ephemeral = "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
    .resp_remote_static = NULL,
    .handshake_hash = "9ca839672840ab3f239a4d1d7136ecde9b3cb8244c0fdc7d6c56f4e394144a54d28326d042ef30d8f253c977efce03d8f728686540672a9eac53dbf9b4c28b57",
    .fallback = 1,
    .n_msgs = 6,
    .msgs = {
      {"4c756477696720766f6e204d69736573",
       "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c794444c103b601479a745cc5cd1ecd456f07a5a585a145b4f0615d73bc68b751c82579de1ae62e1fcd8306ed051c75490898075cce39b302acf9860aa7f091a62712e45e9e51fba842fb2a610aba665fbba5"},
      {"4d757272617920526f746862617264",
       "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f1448088437714fb2cf42a1fc018c24b3bd16731f9a1c1e476d4bd0d0ebcc53cd970d46776ce4e0dff06f00d13dcbac05019986e45929d9e70ce9f27b60ddc4b7ecbc06093bfe336d88f9fc2f0c923439b76bd3b"},
      {"462e20412e20486179656b",
       "fb87f74cbf441d50f7ebe2e1cb265138de3f2070cc34a12461382ecbef625feed719f4e89385e0875a81e64228b6763b4eaf0ea4d6f0f9822534909bdcd0f5d1966f62be436195577993c7"},
      {"4361726c204d656e676572",
       "a1ad6dc722186ef50b242f90f68a7c713e922f257c2739d5dfc956"},
      {"4a65616e2d426170746973746520536179",
       "733ad645ff63a8fc84129292f40ea7436b7277637a57b434a2d72eccf5fcaf36dc"},
      {"457567656e2042f6686d20766f6e2042617765726b",
       "5cb9704868319542e03376b53a2ca844910524e7826c4f4a8f5442a6466db486b8ec9d72b4"},
    },
  },

};

static void setup_side(yz_noise_handshakestate *hs, const yz_noise_protocol *p,
                       yz_noise_role role, const char *prologue,
                       const char *s, const char *e, const char *rs,
                       const char *const *psks)
{
  uint8_t buf[256], key[32];
  size_t n = prologue ? unhex(buf, sizeof buf, prologue) : 0;
  assert_int_equal(yz_noise_hs_init(hs, p, role, buf, n), 0);
  if (s) {
    unhex(key, 32, s);
    assert_int_equal(yz_noise_hs_set_local_static(hs, key), 0);
  }
  /* One-way responders never send e (snow lists one anyway). */
  if (e && !(yz_noise_protocol_is_oneway(p) && role == YZ_NOISE_RESPONDER)) {
    unhex(key, 32, e);
    assert_int_equal(yz_noise_hs_set_local_ephemeral(hs, key), 0);
  }
  if (rs) {
    unhex(key, 32, rs);
    assert_int_equal(yz_noise_hs_set_remote_static(hs, key), 0);
  }
  for (size_t i = 0; i < 4 && psks[i]; i++) {
    unhex(key, 32, psks[i]);
    assert_int_equal(yz_noise_hs_add_psk(hs, key), 0);
  }
}

/* Send messages[i] from a to b (handshake or transport) and compare. */
static void exchange(const kat *k, size_t i, yz_noise_handshakestate *a,
                     yz_noise_handshakestate *b, yz_noise_cipherstate *a_send,
                     yz_noise_cipherstate *b_recv)
{
  uint8_t payload[1024], expect[1024], out[1024], back[1024];
  size_t pn = unhex(payload, sizeof payload, k->msgs[i].payload);
  size_t en = unhex(expect, sizeof expect, k->msgs[i].ciphertext);
  size_t on = 0, bn = 0;

  if (yz_noise_hs_action(a) == YZ_NOISE_ACTION_WRITE) {
    assert_int_equal(yz_noise_hs_action(b), YZ_NOISE_ACTION_READ);
    assert_int_equal(
        yz_noise_hs_write_message(a, payload, pn, out, sizeof out, &on), 0);
    assert_int_equal(on, en);
    assert_memory_equal(out, expect, en);
    assert_int_equal(
        yz_noise_hs_read_message(b, out, on, back, sizeof back, &bn), 0);
  } else {
    assert_int_equal(yz_noise_hs_action(a), YZ_NOISE_ACTION_SPLIT);
    assert_int_equal(yz_noise_cs_encrypt_with_ad(a_send, NULL, 0, payload, pn,
                                                 out, sizeof out, &on),
                     0);
    assert_int_equal(on, en);
    assert_memory_equal(out, expect, en);
    assert_int_equal(yz_noise_cs_decrypt_with_ad(b_recv, NULL, 0, out, on,
                                                 back, sizeof back, &bn),
                     0);
  }
  assert_int_equal(bn, pn);
  assert_memory_equal(back, payload, pn);
}

static void split_if_done(yz_noise_handshakestate *hs, yz_noise_cipherstate *s,
                          yz_noise_cipherstate *r, int *done)
{
  if (!*done && yz_noise_hs_action(hs) == YZ_NOISE_ACTION_SPLIT) {
    assert_int_equal(yz_noise_hs_split(hs, s, r), 0);
    *done = 1;
  }
}

/* noise-c's fallback convention: messages[0] is Alice's IK message to a
 * wrong remote static; Bob fails to read it, then starts XXfallback as the
 * initiator with Alice's ephemeral from messages[0] as the pre-message, and
 * Alice answers as the responder. Even messages stay Alice's. */
static void start_fallback(const kat *k, const yz_noise_protocol *p,
                           yz_noise_handshakestate *alice,
                           yz_noise_handshakestate *bob)
{
  static const char *const none[4];
  char ik[128];
  uint8_t m0[512], out[512], pay[512], re[32];
  size_t n0, on, pn;

  snprintf(ik, sizeof ik, "Noise_IK_%s",
           k->name + strlen("Noise_XXfallback_"));
  yz_noise_protocol pik = proto_of(ik);
  setup_side(alice, &pik, YZ_NOISE_INITIATOR, k->init_prologue,
             k->init_static, k->init_ephemeral, k->init_remote_static, none);
  setup_side(bob, &pik, YZ_NOISE_RESPONDER, k->resp_prologue, k->resp_static,
             NULL, NULL, none);
  assert_int_equal(yz_noise_hs_start(alice), 0);
  assert_int_equal(yz_noise_hs_start(bob), 0);
  pn = unhex(pay, sizeof pay, k->msgs[0].payload);
  n0 = unhex(m0, sizeof m0, k->msgs[0].ciphertext);
  assert_int_equal(
      yz_noise_hs_write_message(alice, pay, pn, out, sizeof out, &on), 0);
  assert_int_equal(on, n0);
  assert_memory_equal(out, m0, n0);
  assert_int_equal(yz_noise_hs_read_message(bob, m0, n0, pay, sizeof pay, &pn),
                   YZ_E_DECRYPT);
  assert_int_equal(yz_noise_hs_action(bob), YZ_NOISE_ACTION_FAILED);
  assert_int_equal(yz_noise_hs_get_remote_ephemeral(bob, re), YZ_E_STATE);
  memcpy(re, m0, 32); /* the failed read committed nothing */
  yz_noise_hs_clear(alice);
  yz_noise_hs_clear(bob);

  setup_side(bob, p, YZ_NOISE_INITIATOR, k->resp_prologue, k->resp_static,
             k->resp_ephemeral, NULL, none);
  assert_int_equal(yz_noise_hs_set_remote_ephemeral(bob, re), 0);
  setup_side(alice, p, YZ_NOISE_RESPONDER, k->init_prologue, k->init_static,
             k->init_ephemeral, NULL, none);
  assert_int_equal(yz_noise_hs_start(alice), 0);
  assert_int_equal(yz_noise_hs_start(bob), 0);
}

static void run_kat(const kat *k)
{
  if (strstr(k->name, "AESGCM") && !crypto_aead_aes256gcm_is_available())
    return; /* no hardware AES here: yz refuses AESGCM */
  yz_noise_protocol p = proto_of(k->name);
  yz_noise_handshakestate hi, hr; /* Alice and Bob */
  yz_noise_cipherstate si, ri, sr, rr;
  int di = 0, dr = 0;
  size_t first = 0;
  uint8_t h[64], hh[64];

  if (k->fallback) {
    start_fallback(k, &p, &hi, &hr);
    first = 1;
  } else {
    setup_side(&hi, &p, YZ_NOISE_INITIATOR, k->init_prologue, k->init_static,
               k->init_ephemeral, k->init_remote_static, k->init_psk);
    setup_side(&hr, &p, YZ_NOISE_RESPONDER, k->resp_prologue, k->resp_static,
               k->resp_ephemeral, k->resp_remote_static, k->resp_psk);
    assert_int_equal(yz_noise_hs_start(&hi), 0);
    assert_int_equal(yz_noise_hs_start(&hr), 0);
  }
  for (size_t i = first; i < k->n_msgs; i++) {
    bool from_alice = yz_noise_protocol_is_oneway(&p) || i % 2 == 0;
    if (from_alice)
      exchange(k, i, &hi, &hr, &si, &rr);
    else
      exchange(k, i, &hr, &hi, &sr, &ri);
    split_if_done(&hi, &si, &ri, &di);
    split_if_done(&hr, &sr, &rr, &dr);
  }
  assert_true(di && dr);
  size_t hl = yz_noise_hs_get_handshake_hash(&hi, h);
  assert_int_equal(yz_noise_hs_get_handshake_hash(&hr, hh), hl);
  assert_memory_equal(h, hh, hl);
  if (k->handshake_hash) {
    uint8_t want[64];
    assert_int_equal(unhex(want, sizeof want, k->handshake_hash), hl);
    assert_memory_equal(h, want, hl);
  }
  yz_noise_hs_clear(&hi);
  yz_noise_hs_clear(&hr);
}

static void test_known_answers(void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof kats / sizeof kats[0]; i++) {
    printf("# %s\n", kats[i].name);
    run_kat(&kats[i]);
  }
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (yz_init() != 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known_answers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
