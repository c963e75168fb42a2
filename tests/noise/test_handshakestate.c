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

/* ---- No heap ------------------------------------------------------------ */

#ifdef YZ_TEST_WRAP_ALLOC
/* Linked with --wrap: every allocation from this program's objects and the
 * noise layer's static library comes through here (cmocka's and libc's
 * own, in shared libraries, do not). */
static size_t allocations;
void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n)
{
  allocations++;
  return __real_malloc(n);
}
void *__wrap_calloc(size_t k, size_t n)
{
  allocations++;
  return __real_calloc(k, n);
}
void *__wrap_realloc(void *p, size_t n)
{
  allocations++;
  return __real_realloc(p, n);
}
#endif

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
/* clang-format off */
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
/* clang-format on */

static void setup_side(yz_noise_handshakestate *hs, const yz_noise_protocol *p,
                       yz_noise_role role, const char *prologue, const char *s,
                       const char *e, const char *rs, const char *const *psks)
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
  setup_side(alice, &pik, YZ_NOISE_INITIATOR, k->init_prologue, k->init_static,
             k->init_ephemeral, k->init_remote_static, none);
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

/* ---- Conversations -------------------------------------------------- */

/* Two parties, their handshakes and, once split, their cipher states.
 * Index 0 is the initiator. Keys and ephemerals are fixed, so a
 * conversation is the same bytes every time. */
typedef struct conv {
  yz_noise_protocol p;
  yz_noise_handshakestate hs[2];
  yz_noise_cipherstate send[2], recv[2];
  int split[2];
  size_t step;
} conv;

enum { TRANSPORT_MSGS = 4 };

static void conv_setup_ex(conv *c, const char *name, const char *prologue_i,
                          const char *prologue_r, const uint8_t *psk_r,
                          bool fixed_e)
{
  const uint8_t *s[2] = {test_key_i, test_key_r};
  const uint8_t *e[2] = {test_eph_i, test_eph_r};
  const char *pro[2] = {prologue_i, prologue_r};
  uint8_t pub[2][32];

  memset(c, 0, sizeof *c);
  c->p = proto_of(name);
  for (int i = 0; i < 2; i++)
    assert_int_equal(yz_noise_dh_public(pub[i], s[i]), 0);
  for (int i = 0; i < 2; i++) {
    yz_noise_handshakestate *hs = &c->hs[i];
    assert_int_equal(
        yz_noise_hs_init(hs, &c->p,
                         i == 0 ? YZ_NOISE_INITIATOR : YZ_NOISE_RESPONDER,
                         (const uint8_t *)pro[i], strlen(pro[i])),
        0);
    assert_int_equal(yz_noise_hs_set_local_static(hs, s[i]), 0);
    if (fixed_e)
      assert_int_equal(yz_noise_hs_set_local_ephemeral(hs, e[i]), 0);
    for (int t = 0; t < 3; t++)
      if (c->p.pre[1 - i][t] == YZ__TOK_S)
        assert_int_equal(yz_noise_hs_set_remote_static(hs, pub[1 - i]), 0);
    for (int k = 0; k < c->p.n_psk; k++)
      assert_int_equal(
          yz_noise_hs_add_psk(hs, i == 1 && psk_r ? psk_r : test_psk), 0);
    assert_int_equal(yz_noise_hs_start(hs), 0);
  }
}

static void conv_setup(conv *c, const char *name)
{
  conv_setup_ex(c, name, "prologue", "prologue", NULL, true);
}

static size_t conv_steps(const conv *c)
{
  return c->p.n_msgs + TRANSPORT_MSGS;
}

static bool conv_in_handshake(const conv *c)
{
  return c->step < c->p.n_msgs;
}

/* Who sends the current step. */
static int conv_sender(const conv *c)
{
  if (conv_in_handshake(c))
    return yz_noise_hs_action(&c->hs[0]) == YZ_NOISE_ACTION_WRITE ? 0 : 1;
  if (yz_noise_protocol_is_oneway(&c->p))
    return 0;
  return (int)((c->step - c->p.n_msgs) % 2);
}

static void conv_split(conv *c)
{
  for (int i = 0; i < 2; i++)
    if (!c->split[i] &&
        yz_noise_hs_action(&c->hs[i]) == YZ_NOISE_ACTION_SPLIT) {
      assert_int_equal(yz_noise_hs_split(&c->hs[i], &c->send[i], &c->recv[i]),
                       0);
      c->split[i] = 1;
    }
}

static void step_payload(const conv *c, uint8_t *p, size_t *n)
{
  *n = (size_t)snprintf((char *)p, 32, "payload %zu", c->step);
}

/* Write the current step's message; returns the sender. */
static int conv_write(conv *c, uint8_t *buf, size_t cap, size_t *len)
{
  uint8_t pay[32];
  size_t pn;
  int from = conv_sender(c);
  step_payload(c, pay, &pn);
  if (conv_in_handshake(c))
    assert_int_equal(
        yz_noise_hs_write_message(&c->hs[from], pay, pn, buf, cap, len), 0);
  else
    assert_int_equal(yz_noise_cs_encrypt_with_ad(&c->send[from], NULL, 0, pay,
                                                 pn, buf, cap, len),
                     0);
  return from;
}

/* Deliver the current step's message to the other side and move on if it
 * was accepted. Returns the receiver's result, or 1 if it accepted the
 * message but the payload is not the one sent. */
static int conv_read(conv *c, int from, const uint8_t *buf, size_t len)
{
  uint8_t pay[32], got[128];
  size_t pn, gn = 0;
  int to = 1 - from, rc;
  step_payload(c, pay, &pn);
  if (conv_in_handshake(c))
    rc = yz_noise_hs_read_message(&c->hs[to], buf, len, got, sizeof got, &gn);
  else
    rc = yz_noise_cs_decrypt_with_ad(&c->recv[to], NULL, 0, buf, len, got,
                                     sizeof got, &gn);
  if (rc == 0) {
    c->step++;
    conv_split(c);
    if (gn != pn || memcmp(got, pay, pn) != 0)
      return 1; /* accepted, but not what was sent */
  }
  return rc;
}

/* One whole conversation; returns the step at which a read failed, or
 * conv_steps() when all went through. */
static size_t conv_run(conv *c)
{
  uint8_t buf[512];
  size_t len;
  while (c->step < conv_steps(c)) {
    int from = conv_write(c, buf, sizeof buf, &len);
    if (conv_read(c, from, buf, len) != 0)
      return c->step;
  }
  return c->step;
}

static void conv_clear(conv *c)
{
  yz_noise_hs_clear(&c->hs[0]);
  yz_noise_hs_clear(&c->hs[1]);
  sodium_memzero(c, sizeof *c);
}

/* Every pattern of the table, bare and with psks, completes with both
 * sides agreeing on h and the transport working both ways. */
static void test_every_pattern_talks(void **state)
{
  (void)state;
  static const char *const pats[] = {"N",          "K",
                                     "X",          "NN",
                                     "NK",         "NX",
                                     "XN",         "XK",
                                     "XX",         "KN",
                                     "KK",         "KX",
                                     "IN",         "IK",
                                     "IX",         "NK1",
                                     "NX1",        "X1N",
                                     "X1K",        "XK1",
                                     "X1K1",       "X1X",
                                     "XX1",        "X1X1",
                                     "K1N",        "K1K",
                                     "KK1",        "K1K1",
                                     "K1X",        "KX1",
                                     "K1X1",       "I1N",
                                     "I1K",        "IK1",
                                     "I1K1",       "I1X",
                                     "IX1",        "I1X1",
                                     "Npsk0",      "Kpsk0",
                                     "Xpsk1",      "NNpsk0",
                                     "NNpsk2",     "XXpsk3",
                                     "IKpsk1",     "XXpsk0+psk1+psk2+psk3",
                                     "NNfallback", "XXfallback"};
  static const char *const prims[] = {"ChaChaPoly_SHA256",
                                      "ChaChaPoly_BLAKE2b", "AESGCM_SHA512"};
  for (size_t i = 0; i < sizeof pats / sizeof pats[0]; i++) {
    for (size_t j = 0; j < 3; j++) {
      char name[128];
      conv c;
      uint8_t h0[64], h1[64], rs[32], pub[32];
      if (j == 2 && !crypto_aead_aes256gcm_is_available())
        continue;
      snprintf(name, sizeof name, "Noise_%s_25519_%s", pats[i], prims[j]);
      if (strstr(name, "fallback")) {
        /* The responder's pre-message ephemeral (section 10.2). */
        yz_noise_protocol p = proto_of(name);
        memset(&c, 0, sizeof c);
        c.p = p;
        assert_int_equal(yz_noise_dh_public(pub, test_eph_r), 0);
        assert_int_equal(
            yz_noise_hs_init(&c.hs[0], &p, YZ_NOISE_INITIATOR, NULL, 0), 0);
        assert_int_equal(yz_noise_hs_set_local_static(&c.hs[0], test_key_i),
                         0);
        assert_int_equal(yz_noise_hs_set_remote_ephemeral(&c.hs[0], pub), 0);
        assert_int_equal(
            yz_noise_hs_init(&c.hs[1], &p, YZ_NOISE_RESPONDER, NULL, 0), 0);
        assert_int_equal(yz_noise_hs_set_local_static(&c.hs[1], test_key_r),
                         0);
        /* Without its ephemeral the responder cannot start. */
        yz_noise_handshakestate tmp = c.hs[1];
        assert_int_equal(yz_noise_hs_start(&tmp), YZ_E_MISSING_KEY);
        assert_int_equal(yz_noise_hs_set_local_ephemeral(&c.hs[1], test_eph_r),
                         0);
        assert_int_equal(yz_noise_hs_start(&c.hs[0]), 0);
        assert_int_equal(yz_noise_hs_start(&c.hs[1]), 0);
      } else {
        conv_setup(&c, name);
      }
      if (conv_run(&c) != conv_steps(&c))
        fail_msg("%s failed at step %zu", name, c.step);
      size_t hl = yz_noise_hs_get_handshake_hash(&c.hs[0], h0);
      assert_int_equal(yz_noise_hs_get_handshake_hash(&c.hs[1], h1), hl);
      assert_memory_equal(h0, h1, hl);
      /* Whoever learned a static key learned the right one. */
      if (yz_noise_hs_get_remote_static(&c.hs[1], rs) == 0) {
        assert_int_equal(yz_noise_dh_public(pub, test_key_i), 0);
        assert_memory_equal(rs, pub, 32);
      }
      if (yz_noise_hs_get_remote_static(&c.hs[0], rs) == 0) {
        assert_int_equal(yz_noise_dh_public(pub, test_key_r), 0);
        assert_memory_equal(rs, pub, 32);
      }
      conv_clear(&c);
    }
  }
}

/* Every byte of every handshake message and transport ciphertext, flipped
 * in turn, fails at that message and not earlier (an unauthenticated first
 * message fails at the next one). */
static void tamper_all(const char *name)
{
  conv c;
  uint8_t rec[16][512];
  size_t rec_len[16], steps;

  conv_setup(&c, name);
  steps = conv_steps(&c);
  assert_true(steps <= 16);
  for (size_t k = 0; k < steps; k++) {
    int from = conv_write(&c, rec[k], sizeof rec[k], &rec_len[k]);
    assert_int_equal(conv_read(&c, from, rec[k], rec_len[k]), 0);
  }
  conv_clear(&c);

  for (size_t j = 0; j < steps; j++) {
    for (size_t b = 0; b < rec_len[j]; b++) {
      uint8_t buf[512];
      size_t len;
      conv_setup(&c, name);
      for (size_t k = 0; k < j; k++) {
        int from = conv_write(&c, buf, sizeof buf, &len);
        assert_int_equal(len, rec_len[k]);
        assert_memory_equal(buf, rec[k], len);
        assert_int_equal(conv_read(&c, from, buf, len), 0);
      }
      bool hs_msg = conv_in_handshake(&c);
      int from = conv_write(&c, buf, sizeof buf, &len);
      buf[b] ^= 0x04;
      int rc = conv_read(&c, from, buf, len);
      if (rc >= 0) {
        /* Only a message with no key behind it at all (XX's first: e and
         * a cleartext payload) can be read; it is in the transcript hash,
         * so the very next message fails. */
        if (!hs_msg || yz_noise_cs_has_key(&c.hs[1 - from].ss.cs))
          fail_msg("%s: flipping byte %zu of message %zu went unnoticed", name,
                   b, j);
        assert_int_equal(conv_run(&c), j + 1);
        conv_clear(&c);
        continue;
      }
      if (hs_msg) {
        assert_int_equal(yz_noise_hs_action(&c.hs[1 - from]),
                         YZ_NOISE_ACTION_FAILED);
        /* Latched: even the genuine message is now refused. */
        buf[b] ^= 0x04;
        size_t n;
        uint8_t pay[64];
        assert_int_equal(yz_noise_hs_read_message(&c.hs[1 - from], buf, len,
                                                  pay, sizeof pay, &n),
                         YZ_E_HANDSHAKE_FAILED);
      } else {
        assert_int_equal(rc, YZ_E_DECRYPT);
        /* The transport state is intact: the genuine one decrypts. */
        buf[b] ^= 0x04;
        assert_int_equal(conv_read(&c, from, buf, len), 0);
      }
      conv_clear(&c);
    }
  }
}

static void test_tamper_xx(void **state)
{
  (void)state;
  tamper_all("Noise_XX_25519_ChaChaPoly_BLAKE2b");
}

static void test_tamper_ik(void **state)
{
  (void)state;
  tamper_all("Noise_IK_25519_ChaChaPoly_SHA256");
}

/* Every shorter prefix of every handshake message fails at that message
 * (the cleartext e of a first message is covered by the AEAD of later
 * data, or for NN-style first messages by the payload being transcript-
 * hashed: a shorter payload is a different but valid message, so the
 * patterns here encrypt from the first message on). */
static void test_truncated(void **state)
{
  (void)state;
  const char *names[] = {"Noise_XX_25519_ChaChaPoly_SHA256",
                         "Noise_IK_25519_ChaChaPoly_SHA256"};
  for (size_t n = 0; n < 2; n++) {
    conv c;
    conv_setup(&c, names[n]);
    size_t hs_msgs = c.p.n_msgs;
    conv_clear(&c);
    for (size_t j = 0; j < hs_msgs; j++) {
      uint8_t buf[512];
      size_t len;
      conv_setup(&c, names[n]);
      for (size_t k = 0; k < j; k++) {
        int from = conv_write(&c, buf, sizeof buf, &len);
        assert_int_equal(conv_read(&c, from, buf, len), 0);
      }
      int from = conv_write(&c, buf, sizeof buf, &len);
      for (size_t cut = 0; cut < len; cut++) {
        yz_noise_handshakestate rx = c.hs[1 - from];
        uint8_t pay[64];
        size_t pn;
        int rc = yz_noise_hs_read_message(&rx, buf, cut, pay, sizeof pay, &pn);
        /* XX's first message is e and a cleartext payload: any cut that
         * keeps e is a valid message with a shorter payload. */
        if (j == 0 && strstr(names[n], "_XX_") && cut >= 32) {
          assert_int_equal(rc, 0);
          continue;
        }
        if (rc != YZ_E_TRUNCATED && rc != YZ_E_DECRYPT)
          fail_msg("%s message %zu cut to %zu: %s", names[n], j, cut,
                   yz_err_name(rc));
        assert_int_equal(yz_noise_hs_action(&rx), YZ_NOISE_ACTION_FAILED);
        yz_noise_hs_clear(&rx);
      }
      conv_clear(&c);
    }
  }
}

static void test_oversized(void **state)
{
  (void)state;
  static uint8_t big[YZ_NOISE_MAX_MSG_LEN + 64];
  conv c;
  size_t n;
  uint8_t small[40];

  /* A message over 65535 bytes is refused and latches FAILED. */
  conv_setup(&c, "Noise_XX_25519_ChaChaPoly_SHA256");
  yz_noise_handshakestate r = c.hs[1];
  assert_int_equal(yz_noise_hs_read_message(&r, big, YZ_NOISE_MAX_MSG_LEN + 1,
                                            big, sizeof big, &n),
                   YZ_E_TOO_LARGE);
  assert_int_equal(yz_noise_hs_action(&r), YZ_NOISE_ACTION_FAILED);

  /* The largest first message fits: 32 bytes of e + 65503 of payload. */
  yz_noise_handshakestate w = c.hs[0];
  assert_int_equal(yz_noise_hs_write_message(&w, big,
                                             YZ_NOISE_MAX_MSG_LEN - 32, big,
                                             sizeof big, &n),
                   0);
  assert_int_equal(n, YZ_NOISE_MAX_MSG_LEN);
  /* One byte more does not. */
  w = c.hs[0];
  assert_int_equal(yz_noise_hs_write_message(&w, big,
                                             YZ_NOISE_MAX_MSG_LEN - 31, big,
                                             sizeof big, &n),
                   YZ_E_TOO_LARGE);
  assert_int_equal(yz_noise_hs_action(&w), YZ_NOISE_ACTION_FAILED);
  /* Nor does a message into a too small buffer. */
  w = c.hs[0];
  assert_int_equal(
      yz_noise_hs_write_message(&w, big, 9, small, sizeof small, &n),
      YZ_E_TOO_LARGE);
  /* A payload buffer too small on the reading side. */
  assert_int_equal(
      yz_noise_hs_write_message(&c.hs[0], big, 100, big, sizeof big, &n), 0);
  assert_int_equal(
      yz_noise_hs_read_message(&c.hs[1], big, n, small, sizeof small, &n),
      YZ_E_TOO_LARGE);
  assert_int_equal(yz_noise_hs_action(&c.hs[1]), YZ_NOISE_ACTION_FAILED);
  conv_clear(&c);
}

static void test_wrong_prologue(void **state)
{
  (void)state;
  conv c;
  /* The prologue is hashed in, so the first encrypted data fails: in XX
   * that is the responder's static key in message 2. */
  conv_setup_ex(&c, "Noise_XX_25519_ChaChaPoly_SHA256", "prologue A",
                "prologue B", NULL, true);
  assert_int_equal(conv_run(&c), 1);
  assert_int_equal(yz_noise_hs_action(&c.hs[0]), YZ_NOISE_ACTION_FAILED);
  conv_clear(&c);
  /* In IK the first message already is encrypted. */
  conv_setup_ex(&c, "Noise_IK_25519_ChaChaPoly_SHA256", "A", "B", NULL, true);
  assert_int_equal(conv_run(&c), 0);
  conv_clear(&c);
}

static void test_wrong_psk(void **state)
{
  (void)state;
  static const uint8_t other[32] = {0xde, 0xad};
  static const struct {
    const char *name;
    size_t fails_at;
  } cases[] = {
      {"Noise_XXpsk0_25519_ChaChaPoly_SHA256", 0},
      {"Noise_IKpsk2_25519_ChaChaPoly_SHA256", 1},
      {"Noise_NNpsk2_25519_ChaChaPoly_BLAKE2b", 1},
      {"Noise_Npsk0_25519_ChaChaPoly_BLAKE2b", 0},
      {"Noise_XXpsk3_25519_ChaChaPoly_SHA512", 2},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    conv c;
    conv_setup_ex(&c, cases[i].name, "p", "p", other, true);
    assert_int_equal(conv_run(&c), cases[i].fails_at);
    conv_clear(&c);
    conv_setup_ex(&c, cases[i].name, "p", "p", test_psk, true);
    assert_int_equal(conv_run(&c), conv_steps(&c));
    conv_clear(&c);
  }
}

static void test_misuse(void **state)
{
  (void)state;
  conv c;
  uint8_t buf[256], pay[64], key[32];
  size_t n;
  yz_noise_cipherstate s, r;

  conv_setup(&c, "Noise_XX_25519_ChaChaPoly_SHA256");
  /* Read when a write is due; write when a read is due: not latched. */
  assert_int_equal(
      yz_noise_hs_read_message(&c.hs[0], buf, 48, pay, sizeof pay, &n),
      YZ_E_STATE);
  assert_int_equal(
      yz_noise_hs_write_message(&c.hs[1], pay, 0, buf, sizeof buf, &n),
      YZ_E_STATE);
  assert_int_equal(yz_noise_hs_action(&c.hs[0]), YZ_NOISE_ACTION_WRITE);
  assert_int_equal(yz_noise_hs_action(&c.hs[1]), YZ_NOISE_ACTION_READ);
  /* Split before done. */
  assert_int_equal(yz_noise_hs_split(&c.hs[0], &s, &r), YZ_E_STATE);
  /* Keys and start only before start. */
  assert_int_equal(yz_noise_hs_start(&c.hs[0]), YZ_E_STATE);
  assert_int_equal(yz_noise_hs_set_local_static(&c.hs[0], test_key_i),
                   YZ_E_STATE);
  assert_int_equal(yz_noise_hs_set_local_ephemeral(&c.hs[0], test_eph_i),
                   YZ_E_STATE);
  /* Not yet known. */
  assert_int_equal(yz_noise_hs_get_remote_static(&c.hs[0], key), YZ_E_STATE);
  assert_int_equal(yz_noise_hs_get_remote_ephemeral(&c.hs[0], key),
                   YZ_E_STATE);
  assert_int_equal(conv_run(&c), conv_steps(&c));
  /* Split twice. */
  assert_int_equal(yz_noise_hs_split(&c.hs[0], &s, &r), YZ_E_STATE);
  assert_int_equal(
      yz_noise_hs_write_message(&c.hs[0], pay, 0, buf, sizeof buf, &n),
      YZ_E_STATE);
  /* The hash and the peer's key stay readable after split. */
  assert_int_equal(yz_noise_hs_get_remote_static(&c.hs[0], key), 0);
  assert_int_equal(yz_noise_hs_get_handshake_hash(&c.hs[0], buf), 32);
  conv_clear(&c);

  /* Anything after FAILED. */
  conv_setup(&c, "Noise_XX_25519_ChaChaPoly_SHA256");
  assert_int_equal(
      yz_noise_hs_read_message(&c.hs[1], buf, 10, pay, sizeof pay, &n),
      YZ_E_TRUNCATED);
  assert_int_equal(yz_noise_hs_action(&c.hs[1]), YZ_NOISE_ACTION_FAILED);
  assert_int_equal(
      yz_noise_hs_read_message(&c.hs[1], buf, 10, pay, sizeof pay, &n),
      YZ_E_HANDSHAKE_FAILED);
  assert_int_equal(
      yz_noise_hs_write_message(&c.hs[1], pay, 0, buf, sizeof buf, &n),
      YZ_E_HANDSHAKE_FAILED);
  assert_int_equal(yz_noise_hs_split(&c.hs[1], &s, &r), YZ_E_HANDSHAKE_FAILED);
  assert_int_equal(yz_noise_hs_start(&c.hs[1]), YZ_E_HANDSHAKE_FAILED);
  conv_clear(&c);
}

static void test_missing_keys(void **state)
{
  (void)state;
  yz_noise_handshakestate hs;
  uint8_t pub[32];
  yz_noise_protocol xx = proto_of("Noise_XX_25519_ChaChaPoly_SHA256");
  yz_noise_protocol ik = proto_of("Noise_IK_25519_ChaChaPoly_SHA256");
  yz_noise_protocol nn = proto_of("Noise_NNpsk0_25519_ChaChaPoly_SHA256");
  assert_int_equal(yz_noise_dh_public(pub, test_key_r), 0);

  /* XX needs the local static. */
  assert_int_equal(yz_noise_hs_init(&hs, &xx, YZ_NOISE_INITIATOR, NULL, 0), 0);
  assert_int_equal(yz_noise_hs_start(&hs), YZ_E_MISSING_KEY);
  assert_int_equal(yz_noise_hs_action(&hs), YZ_NOISE_ACTION_FAILED);
  /* XX takes no remote static: it would be replaced by the received one. */
  assert_int_equal(yz_noise_hs_init(&hs, &xx, YZ_NOISE_INITIATOR, NULL, 0), 0);
  assert_int_equal(yz_noise_hs_set_remote_static(&hs, pub), YZ_E_INVAL);
  assert_int_equal(yz_noise_hs_set_remote_ephemeral(&hs, pub), YZ_E_INVAL);
  /* IK's initiator needs the responder's static. */
  assert_int_equal(yz_noise_hs_init(&hs, &ik, YZ_NOISE_INITIATOR, NULL, 0), 0);
  assert_int_equal(yz_noise_hs_set_local_static(&hs, test_key_i), 0);
  assert_int_equal(yz_noise_hs_start(&hs), YZ_E_MISSING_KEY);
  /* psk count: too many refused, too few missing. */
  assert_int_equal(yz_noise_hs_init(&hs, &xx, YZ_NOISE_INITIATOR, NULL, 0), 0);
  assert_int_equal(yz_noise_hs_add_psk(&hs, test_psk), YZ_E_INVAL);
  assert_int_equal(yz_noise_hs_init(&hs, &nn, YZ_NOISE_INITIATOR, NULL, 0), 0);
  assert_int_equal(yz_noise_hs_add_psk(&hs, test_psk), 0);
  assert_int_equal(yz_noise_hs_add_psk(&hs, test_psk), YZ_E_INVAL);
  assert_int_equal(yz_noise_hs_init(&hs, &nn, YZ_NOISE_INITIATOR, NULL, 0), 0);
  assert_int_equal(yz_noise_hs_start(&hs), YZ_E_MISSING_KEY);
  /* Bad arguments. */
  assert_int_equal(yz_noise_hs_init(&hs, &xx, (yz_noise_role)3, NULL, 0),
                   YZ_E_INVAL);
  assert_int_equal(yz_noise_hs_init(&hs, &xx, YZ_NOISE_INITIATOR, NULL, 5),
                   YZ_E_INVAL);
  yz_noise_hs_clear(&hs);
}

/* A low-order public key makes the DH all zero: refused (MALFORMED) and
 * latched, before anything is decrypted. */
static void test_low_order_point(void **state)
{
  (void)state;
  conv c;
  uint8_t buf[256], pay[64];
  size_t len, n;
  conv_setup(&c, "Noise_XX_25519_ChaChaPoly_SHA256");
  int from = conv_write(&c, buf, sizeof buf, &len);
  assert_int_equal(conv_read(&c, from, buf, len), 0);
  from = conv_write(&c, buf, sizeof buf, &len);
  memset(buf, 0, 32); /* the responder's e: the zero point */
  assert_int_equal(
      yz_noise_hs_read_message(&c.hs[0], buf, len, pay, sizeof pay, &n),
      YZ_E_MALFORMED);
  assert_int_equal(yz_noise_hs_action(&c.hs[0]), YZ_NOISE_ACTION_FAILED);
  conv_clear(&c);
}

/* With the CSPRNG's ephemerals two handshakes differ and both work. */
static void test_random_ephemerals(void **state)
{
  (void)state;
  conv a, b;
  uint8_t m1[128], m2[128];
  size_t n1, n2;
  conv_setup_ex(&a, "Noise_XX_25519_ChaChaPoly_BLAKE2b", "", "", NULL, false);
  conv_setup_ex(&b, "Noise_XX_25519_ChaChaPoly_BLAKE2b", "", "", NULL, false);
  conv_write(&a, m1, sizeof m1, &n1);
  conv_write(&b, m2, sizeof m2, &n2);
  assert_int_equal(n1, n2);
  assert_memory_not_equal(m1, m2, 32);
  assert_int_equal(conv_read(&a, 0, m1, n1), 0);
  assert_int_equal(conv_run(&a), conv_steps(&a));
  conv_clear(&a);
  conv_clear(&b);
}

/* Rekey on both sides after the handshake keeps the channel working, with
 * ciphertexts other than without it. */
static void test_rekey_after_handshake(void **state)
{
  (void)state;
  conv a, b;
  uint8_t ca[64], cb[64], out[64];
  size_t na, nb, n;
  conv_setup(&a, "Noise_XX_25519_ChaChaPoly_SHA256");
  conv_setup(&b, "Noise_XX_25519_ChaChaPoly_SHA256");
  assert_int_equal(conv_run(&a), conv_steps(&a));
  assert_int_equal(conv_run(&b), conv_steps(&b));
  for (int i = 0; i < 2; i++) {
    assert_int_equal(yz_noise_cs_rekey(&a.send[i]), 0);
    assert_int_equal(yz_noise_cs_rekey(&a.recv[1 - i]), 0);
  }
  for (int i = 0; i < 2; i++) {
    assert_int_equal(yz_noise_cs_encrypt_with_ad(&a.send[i], NULL, 0,
                                                 (const uint8_t *)"msg", 3, ca,
                                                 64, &na),
                     0);
    assert_int_equal(yz_noise_cs_encrypt_with_ad(&b.send[i], NULL, 0,
                                                 (const uint8_t *)"msg", 3, cb,
                                                 64, &nb),
                     0);
    assert_memory_not_equal(ca, cb, na);
    assert_int_equal(yz_noise_cs_decrypt_with_ad(&a.recv[1 - i], NULL, 0, ca,
                                                 na, out, 64, &n),
                     0);
    assert_memory_equal(out, "msg", 3);
  }
  conv_clear(&a);
  conv_clear(&b);
}

static void test_oneway_split(void **state)
{
  (void)state;
  conv c;
  uint8_t buf[64];
  size_t n;
  conv_setup(&c, "Noise_X_25519_ChaChaPoly_SHA256");
  assert_int_equal(conv_run(&c), conv_steps(&c));
  /* Only the initiator sends. */
  assert_true(yz_noise_cs_has_key(&c.send[0]));
  assert_false(yz_noise_cs_has_key(&c.recv[0]));
  assert_false(yz_noise_cs_has_key(&c.send[1]));
  assert_true(yz_noise_cs_has_key(&c.recv[1]));
  (void)buf;
  (void)n;
  conv_clear(&c);
}

/* The precomputed-public variant gives the same handshake. */
static void test_static_keypair(void **state)
{
  (void)state;
  yz_noise_protocol p = proto_of("Noise_XX_25519_ChaChaPoly_SHA256");
  yz_noise_handshakestate a, b;
  uint8_t pub[32];
  assert_int_equal(yz_noise_dh_public(pub, test_key_i), 0);
  assert_int_equal(yz_noise_hs_init(&a, &p, YZ_NOISE_INITIATOR, NULL, 0), 0);
  assert_int_equal(yz_noise_hs_init(&b, &p, YZ_NOISE_INITIATOR, NULL, 0), 0);
  assert_int_equal(yz_noise_hs_set_local_static(&a, test_key_i), 0);
  assert_int_equal(yz_noise_hs_set_local_static_keypair(&b, test_key_i, pub),
                   0);
  assert_memory_equal(a.s_pub, b.s_pub, 32);
  yz_noise_hs_clear(&a);
  yz_noise_hs_clear(&b);
  static const uint8_t zero[sizeof a] = {0};
  assert_memory_equal(&a, zero, sizeof a);
}

/* Everything above ran through the layer: not one allocation. Listed last
 * so it covers the whole program. */
static void test_no_allocation(void **state)
{
  (void)state;
#ifdef YZ_TEST_WRAP_ALLOC
  conv c;
  conv_setup(&c, "Noise_XXpsk3_25519_ChaChaPoly_SHA512");
  assert_int_equal(conv_run(&c), conv_steps(&c));
  conv_clear(&c);
  assert_int_equal(allocations, 0);
  /* The wrap is live: this program's own malloc is counted. */
  void *volatile p = malloc(1); /* volatile: not elided */
  assert_non_null(p);
  free(p);
  assert_int_equal(allocations, 1);
#else
  skip();
#endif
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (yz_init() != 0)
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known_answers),
      cmocka_unit_test(test_every_pattern_talks),
      cmocka_unit_test(test_tamper_xx),
      cmocka_unit_test(test_tamper_ik),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_oversized),
      cmocka_unit_test(test_wrong_prologue),
      cmocka_unit_test(test_wrong_psk),
      cmocka_unit_test(test_misuse),
      cmocka_unit_test(test_missing_keys),
      cmocka_unit_test(test_low_order_point),
      cmocka_unit_test(test_random_ephemerals),
      cmocka_unit_test(test_rekey_after_handshake),
      cmocka_unit_test(test_oneway_split),
      cmocka_unit_test(test_static_keypair),
      cmocka_unit_test(test_no_allocation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
