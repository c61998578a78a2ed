/* Checkpoint I/O: torch.save files (zip, zip64, legacy), safetensors, the
 * safe unpickler, hostile and corrupt files, and a safetensors round trip.
 * Fixtures and expected values come from tests/fixtures/make_checkpoint_fixtures.py.
 *
 * Set AAPMT_CHECKPOINT_WRITE=path to also write the round-trip safetensors
 * file there, for checking it in Python:
 *   make_checkpoint_fixtures.py --check path */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "io/mapped_file.h"
#include "io/pickle.h"
#include "io/state_dict.h"
#include "io/zip.h"

#define FIXTURES AAPMT_TEST_FIXTURES "/checkpoint/"

static cJSON *expected;

/* Every expected tensor is present with its dtype, shape and values, and nothing else. */
static void compare(const at_state_dict *sd, const char *what, bool check_order) {
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(expected, what);
    CHECK(want != NULL, "%s: no expected values", what);
    if (!want || !sd) return;
    CHECK(sd->count == cJSON_GetArraySize(want), "%s: %d tensors, expected %d", what, sd->count,
          cJSON_GetArraySize(want));
    int index = 0;
    for (const cJSON *e = want->child; e; e = e->next, index++) {
        at_tensor *t = at_sd_get(sd, e->string);
        CHECK(t != NULL, "%s: '%s' missing", what, e->string);
        if (!t) continue;
        if (check_order && index < sd->count)
            CHECK(strcmp(sd->entries[index].name, e->string) == 0, "%s: entry %d is '%s', expected '%s'", what,
                  index, sd->entries[index].name, e->string);
        const char *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype")->valuestring;
        CHECK(strcmp(at_dtype_name(t->dtype), dtype) == 0, "%s: '%s' is %s, expected %s", what, e->string,
              at_dtype_name(t->dtype), dtype);
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
        bool same = t->ndim == cJSON_GetArraySize(shape);
        int d = 0;
        for (const cJSON *s = shape->child; same && s; s = s->next, d++) same = t->shape[d] == (int64_t)s->valuedouble;
        char buf[128];
        CHECK(same, "%s: '%s' has shape %s", what, e->string, at_shape_str(t, buf, sizeof buf));
        if (!same) continue;
        const cJSON *values = cJSON_GetObjectItemCaseSensitive(e, "values");
        int64_t i = 0, bad = -1;
        for (const cJSON *v = values->child; v; v = v->next, i++)
            if (bad < 0 && at_get_linear(t, i) != v->valuedouble) bad = i;
        CHECK(i == at_numel(t), "%s: '%s': %lld expected values for %lld elements", what, e->string, (long long)i,
              (long long)at_numel(t));
        CHECK(bad < 0, "%s: '%s': element %lld is %.17g", what, e->string, (long long)bad,
              bad < 0 ? 0.0 : at_get_linear(t, bad));
    }
}

/* Does t's storage borrow the mapped file (zero-copy)? */
static bool borrows_file(const at_tensor *t) {
    const at_mapped_file *m = t->storage->owner;
    if (!m || !t->storage->release) return false;
    const unsigned char *p = t->storage->data;
    return p >= m->data && p + t->storage->nbytes <= m->data + m->size;
}

static void test_torch_files(void) {
    static const char *files[] = {"imagereward_small.pt", "ddp_module_prefix.pt", "best_lr=1e-05.pt",
                                  "from_buffer.pt", "zip64.pt", "dtypes.pt", "views.pt", "legacy.pt",
                                  "big_endian.pt"};
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        char path[512];
        snprintf(path, sizeof path, FIXTURES "%s", files[f]);
        size_t heap_before = at_storage_live_bytes();
        at_state_dict *sd = at_load_checkpoint(path);
        CHECK(sd != NULL, "%s: %s", files[f], at_last_error());
        compare(sd, files[f], true);
        /* torch.save's zip aligns every record: nothing is copied (the legacy
         * format does not align, and big-endian bytes must be swapped). */
        if (sd && strcmp(files[f], "legacy.pt") != 0 && strcmp(files[f], "big_endian.pt") != 0) {
            CHECK(at_storage_live_bytes() == heap_before, "%s: loading allocated %zu bytes", files[f],
                  at_storage_live_bytes() - heap_before);
            for (int i = 0; i < sd->count; i++)
                CHECK(borrows_file(sd->entries[i].tensor), "%s: '%s' is not a view of the file", files[f],
                      sd->entries[i].name);
        }
        at_sd_free(sd);
    }
    at_state_dict *sd = at_load_pt(FIXTURES "views.pt");
    if (sd) {
        at_tensor *a = at_sd_get(sd, "shared.a"), *b = at_sd_get(sd, "shared.b"), *e = at_sd_get(sd, "expanded");
        CHECK(a->storage == b->storage && a->offset == 2 && b->offset == 5, "shared storage loaded once");
        CHECK(e->stride[0] == 0 && e->stride[1] == 1, "expanded keeps stride (0, 1)");
        CHECK(!at_is_contiguous(at_sd_get(sd, "transposed")), "transposed is a strided view");
    }
    at_sd_free(sd);
    sd = at_load_pt(FIXTURES "legacy.pt");
    if (sd) {
        at_tensor *a = at_sd_get(sd, "shared.a"), *b = at_sd_get(sd, "shared.b");
        CHECK(a->storage == b->storage, "legacy: shared storage loaded once");
    }
    at_sd_free(sd);
    sd = at_load_pt(FIXTURES "imagereward_small.pt");
    if (sd) {
        at_tensor *p = at_sd_get(sd, "blip.text_encoder.embeddings.position_ids");
        CHECK(p && p->dtype == AT_I64 && p->stride[0] == 0, "position_ids: i64 with stride (0, 1)");
    }
    at_sd_free(sd);
}

/* A tensor outlives its dict and the loader; writes go to private pages. */
static void test_lifetime_and_private_map(void) {
    at_state_dict *sd = at_load_checkpoint(FIXTURES "imagereward_small.pt");
    CHECK(sd != NULL, "load: %s", at_last_error());
    if (!sd) return;
    at_tensor *t = at_sd_get(sd, "mlp.layers.0.weight");
    at_retain(t);
    double first = at_get_linear(t, 0);
    at_sd_free(sd);
    CHECK(at_get_linear(t, 0) == first, "a tensor keeps the map alive after its dict is freed");
    CHECK(at_fill_(t, 7.0) == 0 && at_get_linear(t, 3) == 7.0, "a loaded tensor can be written in place");
    at_release(t);
    sd = at_load_checkpoint(FIXTURES "imagereward_small.pt");
    CHECK(sd && at_get_linear(at_sd_get(sd, "mlp.layers.0.weight"), 0) == first, "the file is unchanged");
    at_sd_free(sd);
}

static void test_safetensors_file(void) {
    size_t heap_before = at_storage_live_bytes();
    at_state_dict *sd = at_load_safetensors(FIXTURES "small.safetensors");
    CHECK(sd != NULL, "small.safetensors: %s", at_last_error());
    compare(sd, "small.safetensors", false);
    CHECK(at_storage_live_bytes() == heap_before, "safetensors loads without copying");
    for (int i = 0; sd && i < sd->count; i++)
        CHECK(borrows_file(sd->entries[i].tensor), "'%s' is not a view of the file", sd->entries[i].name);
    at_sd_free(sd);
    sd = at_load_checkpoint(FIXTURES "small.safetensors");
    CHECK(sd && sd->count == 9, "at_load_checkpoint recognises safetensors");
    at_sd_free(sd);
}

static bool contains(const char *s, const char *part) { return strstr(s, part) != NULL; }

typedef struct {
    const char *file;
    at_state_dict *(*load)(const char *);
    const char *error;   /* a part of the message */
} hostile_case;

static void test_hostile_files(void) {
    const hostile_case cases[] = {
        {"forbidden_global.pt", at_load_checkpoint, "global 'os.system' is not allowed"},
        {"forbidden_global.pt", at_load_pt, "(GLOBAL)"},
        {"forbidden_stack_global.pt", at_load_checkpoint, "global 'builtins.eval' is not allowed"},
        {"forbidden_opcode.pt", at_load_checkpoint, "(INST): opcode 0x69 'i' is not allowed"},
        {"deep_nesting.pt", at_load_checkpoint, "nested more than"},
        {"bad_memo.pt", at_load_checkpoint, "memo index 7 was never set"},
        {"no_stop.pt", at_load_checkpoint, "ends without STOP"},
        {"truncated.pt", at_load_checkpoint, "no end-of-central-directory record"},
        {"corrupt_central_directory.pt", at_load_checkpoint, "no central directory entry at offset"},
        {"entry_past_end.pt", at_load_checkpoint, "no local header"},
        {"view_past_storage.pt", at_load_checkpoint, "reaches past storage '0' of 4 elements"},
        {"storage_past_record.pt", at_load_checkpoint, "needs 800 bytes but its record has 16"},
        {"compressed.pt", at_load_checkpoint, "compression method 8 (deflate) is not supported"},
        {"duplicate_entry.pt", at_load_checkpoint, "duplicate entry 'd/data.pkl'"},
        {"dotdot.pt", at_load_checkpoint, "unsafe name"},
        {"not_a_dict.pt", at_load_checkpoint, "holds a list, not a state dict"},
        {"nested.pt", at_load_checkpoint, "nested checkpoints"},
        {"torchscript.pt", at_load_checkpoint, "TorchScript archive"},
        {"legacy_truncated.pt", at_load_checkpoint, "run past the end of the file"},
        {"legacy_tar.pt", at_load_checkpoint, "tar-based torch checkpoint format"},
        {"not_a_checkpoint.bin", at_load_checkpoint, "starts with bytes 47 49 46 38"},
        {"empty.pt", at_load_checkpoint, "the file is empty"},
        {"does_not_exist.pt", at_load_checkpoint, "No such file"},
        {"small.safetensors", at_load_pt, "not a PyTorch checkpoint"},
        {"imagereward_small.pt", at_load_safetensors, "header length"},
        {"offsets_past_end.safetensors", at_load_checkpoint,
         "'w': data_offsets [0, 4096] lie outside the 16-byte buffer"},
        {"overlap.safetensors", at_load_checkpoint, "'b' starts at byte 4 of the buffer, expected 8 (overlap)"},
        {"gap.safetensors", at_load_checkpoint, "'b' starts at byte 8 of the buffer, expected 4 (gap)"},
        {"size_mismatch.safetensors", at_load_checkpoint, "hold 16 bytes but F32 shape needs 12"},
        {"bad_dtype.safetensors", at_load_checkpoint, "dtype C64 is not supported"},
        {"bad_json.safetensors", at_load_checkpoint, "not valid JSON"},
        {"header_past_end.safetensors", at_load_safetensors, "header length 1099511627776 runs past"},
        {"truncated.safetensors", at_load_checkpoint, "lie outside"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[512];
        snprintf(path, sizeof path, FIXTURES "%s", cases[i].file);
        size_t heap_before = at_storage_live_bytes();
        at_set_error("%s", "");
        at_state_dict *sd = cases[i].load(path);
        CHECK(sd == NULL, "%s: loaded", cases[i].file);
        at_sd_free(sd);
        const char *msg = at_last_error();
        CHECK(contains(msg, cases[i].error) && contains(msg, cases[i].file), "%s: error '%s' lacks '%s'",
              cases[i].file, msg, cases[i].error);
        CHECK(at_storage_live_bytes() == heap_before, "%s: storage leaked", cases[i].file);
    }
}

/* The unpickler on its own: opcodes of newer protocols and edge cases. */
static const at_pv *unpickle(at_unpickler *u, const char *bytes, size_t len) {
    size_t used = 0;
    const at_pv *v = at_unpickle(u, (const unsigned char *)bytes, len, &used);
    if (v) CHECK(used == len, "consumed %zu of %zu bytes", used, len);
    return v;
}

static void test_unpickler(void) {
    at_unpickler *u = at_unpickler_new("test", false);
    /* protocol 4: FRAME, SHORT_BINUNICODE, MEMOIZE, EMPTY_LIST, APPENDS, LONG1, BINFLOAT, BININT2/BININT */
    static const char p4[] = "\x80\x04\x95\x30\x00\x00\x00\x00\x00\x00\x00"
                             "]\x94(\x8c\x02hi\x94\x8a\x02\x00\x80\x8a\x00G\x3f\xf8\x00\x00\x00\x00\x00\x00"
                             "M\x01\x02J\xff\xff\xff\xff\x88N\x89h\x01" "e.";
    const at_pv *v = unpickle(u, p4, sizeof p4 - 1);
    CHECK(v && v->kind == AT_PV_LIST && v->u.seq.n == 10, "protocol 4 list: %s", v ? "wrong shape" : at_last_error());
    if (v && v->u.seq.n == 10) {
        at_pv **it = v->u.seq.items;
        CHECK(it[0]->kind == AT_PV_STR && it[0]->u.str.len == 2, "SHORT_BINUNICODE");
        CHECK(it[1]->u.i == -32768, "LONG1 negative: %lld", (long long)it[1]->u.i);
        CHECK(it[2]->u.i == 0, "LONG1 of zero bytes");
        CHECK(it[3]->kind == AT_PV_FLOAT && it[3]->u.f == 1.5, "BINFLOAT is big-endian");
        CHECK(it[4]->u.i == 513 && it[5]->u.i == -1, "BININT2, BININT");
        CHECK(it[6]->u.b && it[7]->kind == AT_PV_NONE && !it[8]->u.b, "NEWTRUE, NONE, NEWFALSE");
        CHECK(it[9] == it[0], "MEMOIZE then BINGET gives the same value");
    }
#define P(literal) literal, sizeof literal - 1
    /* A tensor subclass: _rebuild_from_type_v2(_rebuild_tensor_v2, torch.Tensor, (storage, 0, (4,), (1,),
     * False, None), {}) */
    static const char subclass[] = "\x80\x02" "ctorch._tensor\n_rebuild_from_type_v2\n"
                                   "(ctorch._utils\n_rebuild_tensor_v2\nctorch\nTensor\n"
                                   "((X\x07\x00\x00\x00" "storagectorch\nFloatStorage\n"
                                   "X\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x04tQ"
                                   "K\x00K\x04\x85K\x01\x85\x89Nt}tR.";
    v = unpickle(u, subclass, sizeof subclass - 1);
    CHECK(v && v->kind == AT_PV_TENSOR && v->u.tensor.ndim == 1 && v->u.tensor.shape[0] == 4 &&
          v->u.tensor.storage->u.storage.numel == 4 && v->u.tensor.storage->u.storage.dtype == AT_F32,
          "_rebuild_from_type_v2: %s", v ? at_pv_kind_name(v->kind) : at_last_error());
    static const struct { const char *bytes; size_t len; const char *error; } bad[] = {
        {P("\x80\x02\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09."), "does not fit 64 bits"},
        {P("\x80\x02X\x02\x00\x00\x00\xc3\x28."), "not valid UTF-8"},
        {P("\x80\x02X\xff\xff\xff\x7f."), "truncated"},
        {P("\x80\x02t."), "no MARK to close"},
        {P("\x80\x02" "0."), "(POP): opcode 0x30 '0' is not allowed"},
        {P("\x80\x02K\x01K\x02."), "2 values"},
        {P("\x80\x02(K\x01."), "open MARKs"},
        {P("\x80\x02" "a."), "stack underflow"},
        {P("\x80\x02K\x01r\xff\xff\xff\x7f."), "memo index 2147483647 is out of range"},
        {P("\x80\x02" "ccollections\nOrderedDict\nK\x01\x85R."), "OrderedDict called with 1 arguments"},
        {P("\x80\x02K\x01)R."), "calling a int"},
        {P("\x80\x02}K\x01" "b."), "BUILD with a int state"},
        {P("\x80\x02(X\x07\x00\x00\x00storagectorch\nShortStorage\nX\x01\x00\x00\x00"
           "0X\x03\x00\x00\x00" "cpuK\x01tQ."), "torch.ShortStorage (int16) has no aapmt dtype"},
        {P("\x80\x02(X\x06\x00\x00\x00moduleK\x01tQ."), "persistent id of kind 'module'"},
        {P("\x80\x06."), "protocol 6 is newer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(unpickle(u, bad[i].bytes, bad[i].len) == NULL, "bad pickle %zu accepted", i);
        CHECK(contains(at_last_error(), bad[i].error), "bad pickle %zu: '%s' lacks '%s'", i, at_last_error(),
              bad[i].error);
    }
#undef P
    /* 1025 MARKs */
    char marks[1030] = "\x80\x02";
    memset(marks + 2, '(', 1025);
    marks[1027] = '.';
    CHECK(!unpickle(u, marks, 1028) && contains(at_last_error(), "nested MARKs"), "MARK nesting: %s", at_last_error());
    at_unpickler_free(u);
}

static void test_state_dict_api(void) {
    at_state_dict *sd = at_sd_new();
    at_tensor *a = at_scalar(AT_F32, 1), *b = at_scalar(AT_F32, 2);
    char name[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "module.layer.%d.weight", i);
        at_sd_put(sd, name, i % 2 ? a : b);
    }
    CHECK(sd->count == 5000, "5000 names");
    at_sd_put(sd, "module.layer.7.weight", b);   /* replaces, keeps the place */
    CHECK(sd->count == 5000 && at_sd_get(sd, "module.layer.7.weight") == b && strcmp(sd->entries[7].name,
          "module.layer.7.weight") == 0, "put replaces");
    CHECK(at_sd_strip_prefix(sd, "module.") == 5000, "prefix stripped");
    CHECK(at_sd_get(sd, "layer.4999.weight") == a && !at_sd_get(sd, "module.layer.1.weight"), "lookups after strip");
    at_sd_put(sd, "other", a);
    CHECK(at_sd_strip_prefix(sd, "layer.") == 0, "no strip unless every name has the prefix");
    CHECK(at_sd_put(sd, "x", NULL) == -1, "put NULL refused");
    at_sd_free(sd);
    at_release(a);
    at_release(b);
}

static bool temp_files_left(const char *dir) {
    DIR *d = opendir(dir);
    bool found = false;
    for (struct dirent *e; d && (e = readdir(d));) found |= strstr(e->d_name, ".tmp-") != NULL;
    if (d) closedir(d);
    return found;
}

static void test_safetensors_round_trip(void) {
    at_state_dict *dt = at_load_pt(FIXTURES "dtypes.pt"), *vw = at_load_pt(FIXTURES "views.pt");
    CHECK(dt && vw, "load: %s", at_last_error());
    if (!dt || !vw) {
        at_sd_free(dt);
        at_sd_free(vw);
        return;
    }
    at_state_dict *sd = at_sd_new();
    for (int i = 0; i < dt->count; i++) at_sd_put(sd, dt->entries[i].name, dt->entries[i].tensor);
    for (int i = 0; i < vw->count; i++) at_sd_put(sd, vw->entries[i].name, vw->entries[i].tensor);
    at_sd_free(dt);
    at_sd_free(vw);
    char dir[] = "/tmp/aapmt-checkpoint-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[256];
    snprintf(path, sizeof path, "%s/round trip.safetensors", dir);
    CHECK(at_save_safetensors(sd, path) == 0, "save: %s", at_last_error());
    CHECK(!temp_files_left(dir), "no temporary file left beside the target");
    /* Saving again replaces the file atomically. */
    CHECK(at_save_safetensors(sd, path) == 0, "save again: %s", at_last_error());
    at_state_dict *back = at_load_checkpoint(path);
    CHECK(back != NULL, "load back: %s", at_last_error());
    compare(back, "roundtrip", false);
    for (int i = 0; back && i < back->count; i++) {
        CHECK(borrows_file(back->entries[i].tensor), "written '%s' loads zero-copy", back->entries[i].name);
        CHECK(at_is_contiguous(back->entries[i].tensor), "written '%s' is contiguous", back->entries[i].name);
    }
    FILE *f = fopen(path, "rb");
    unsigned char len8[8] = {0};
    CHECK(f && fread(len8, 1, 8, f) == 8, "read header length");
    if (f) fclose(f);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | len8[i];
    CHECK((8 + n) % 64 == 0, "the byte buffer starts 64-byte aligned (header %llu)", (unsigned long long)n);
    at_sd_free(back);
    const char *keep = getenv("AAPMT_CHECKPOINT_WRITE");
    if (keep && *keep) CHECK(at_save_safetensors(sd, keep) == 0, "write %s: %s", keep, at_last_error());

    /* Failures leave nothing behind and say why. */
    char bad_path[300];
    snprintf(bad_path, sizeof bad_path, "%s/missing/x.safetensors", dir);
    CHECK(at_save_safetensors(sd, bad_path) == -1 && contains(at_last_error(), "x.safetensors") &&
          contains(at_last_error(), "No such file"), "save into a missing folder: %s", at_last_error());
    at_tensor *t = at_scalar(AT_F32, 1);
    at_sd_put(sd, "__metadata__", t);
    at_release(t);
    CHECK(at_save_safetensors(sd, path) == -1 && contains(at_last_error(), "'__metadata__' cannot be a tensor name"),
          "reserved name refused: %s", at_last_error());
    CHECK(!temp_files_left(dir), "no temporary file left after failures");
    at_sd_free(sd);
    unlink(path);
    rmdir(dir);
}

int main(void) {
    char *text = check_read_file(FIXTURES "expected.json", NULL);
    expected = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!expected) {
        fprintf(stderr, "cannot read %sexpected.json: run tests/fixtures/make_checkpoint_fixtures.py\n", FIXTURES);
        return 1;
    }
    test_torch_files();
    test_lifetime_and_private_map();
    test_safetensors_file();
    test_hostile_files();
    test_unpickler();
    test_state_dict_api();
    test_safetensors_round_trip();
    cJSON_Delete(expected);
    return check_summary();
}
