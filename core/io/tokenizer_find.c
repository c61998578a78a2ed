/* Finding bert-base-uncased's vocab.txt: an explicit path, else beside the
 * checkpoint, else the Hugging Face hub cache (where ImageReward's
 * BertTokenizer.from_pretrained('bert-base-uncased') put it). */
#include "tokenizer.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_PLACES 16

typedef struct {
    char *place[MAX_PLACES];   /* every path or pattern looked at, for the error */
    int n;
} places;

static void places_add(places *p, const char *what) {
    if (p->n < MAX_PLACES) p->place[p->n++] = strdup(what);
}

static void places_free(places *p) {
    for (int i = 0; i < p->n; i++) free(p->place[i]);
}

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);   /* follows the cache's symlinks */
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* a + "/" + b, malloc'd. */
static char *join(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    bool slash = na > 0 && a[na - 1] == '/';
    char *s = malloc(na + nb + 2);
    if (s) snprintf(s, na + nb + 2, "%s%s%s", a, slash ? "" : "/", b);
    return s;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* <repo>/snapshots/<revision>/vocab.txt: the revision refs/main names, else
 * the first snapshot (by name) that has one. */
static char *find_in_repo(const char *repo) {
    char *found = NULL;
    char *ref_path = join(repo, "refs/main");
    FILE *f = ref_path ? fopen(ref_path, "r") : NULL;
    free(ref_path);
    if (f) {
        char rev[128] = "";
        if (fgets(rev, sizeof rev, f)) {
            rev[strcspn(rev, " \t\r\n")] = '\0';
            if (rev[0] && !strchr(rev, '/') && strcmp(rev, "..") != 0 && strcmp(rev, ".") != 0) {
                char rel[200];
                snprintf(rel, sizeof rel, "snapshots/%s/vocab.txt", rev);
                found = join(repo, rel);
                if (found && !is_file(found)) {
                    free(found);
                    found = NULL;
                }
            }
        }
        fclose(f);
    }
    if (found) return found;
    char *snap = join(repo, "snapshots");
    DIR *d = snap ? opendir(snap) : NULL;
    if (d) {
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                char **nn = realloc(names, cap * sizeof *nn);
                if (!nn) break;
                names = nn;
            }
            if (!(names[n] = strdup(e->d_name))) break;
            n++;
        }
        closedir(d);
        if (names) qsort(names, n, sizeof *names, cmp_names);
        for (size_t i = 0; i < n; i++) {
            char *dir = found ? NULL : join(snap, names[i]);
            char *cand = dir ? join(dir, "vocab.txt") : NULL;
            if (cand && is_file(cand)) found = cand;
            else free(cand);
            free(dir);
            free(names[i]);
        }
        free(names);
    }
    free(snap);
    return found;
}

/* "~/x" → "$HOME/x"; other paths unchanged. malloc'd. */
static char *expand_home(const char *p) {
    const char *home = getenv("HOME");
    if (p[0] == '~' && (p[1] == '/' || p[1] == '\0') && home && home[0])
        return join(home, p[1] ? p + 2 : "");
    return strdup(p);
}

/* The hub cache folders huggingface_hub and older transformers use, most
 * specific first. */
static int cache_roots(char **roots) {
    const char *env_roots[3] = {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE"};
    const char *home_like[3][2] = {{"HF_HOME", "hub"},
                                   {"XDG_CACHE_HOME", "huggingface/hub"},
                                   {"HOME", ".cache/huggingface/hub"}};
    char *cand[6];
    int nc = 0, n = 0;
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(env_roots[i]);
        if (v && v[0]) cand[nc++] = expand_home(v);
    }
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(home_like[i][0]);
        if (!v || !v[0]) continue;
        char *base = expand_home(v);
        cand[nc++] = base ? join(base, home_like[i][1]) : NULL;
        free(base);
    }
    for (int i = 0; i < nc; i++) {
        bool dup = !cand[i];
        for (int j = 0; j < n && !dup; j++) dup = strcmp(roots[j], cand[i]) == 0;
        if (dup) free(cand[i]);
        else roots[n++] = cand[i];
    }
    return n;
}

static char *from_explicit(const char *path) {
    if (is_file(path)) return strdup(path);
    if (is_dir(path)) {
        char *p = join(path, "vocab.txt");
        if (p && is_file(p)) return p;
        at_set_error("tokenizer: vocabulary folder %s has no vocab.txt", path);
        free(p);
        return NULL;
    }
    at_set_error("tokenizer: vocabulary file %s does not exist", path);
    return NULL;
}

char *at_tokenizer_find_vocab(const char *explicit_path, const char *checkpoint_path) {
    if (explicit_path && explicit_path[0]) return from_explicit(explicit_path);
    places looked = {0};
    char *found = NULL;
    if (checkpoint_path && checkpoint_path[0]) {
        const char *slash = strrchr(checkpoint_path, '/');
        char *dir = slash ? strndup(checkpoint_path, (size_t)(slash - checkpoint_path) + 1) : strdup(".");
        char *cand = dir ? join(dir, "vocab.txt") : NULL;
        if (cand && is_file(cand)) {
            found = cand;
        } else if (cand) {
            places_add(&looked, cand);
            free(cand);
        }
        free(dir);
    }
    char *roots[6];
    int nroots = cache_roots(roots);
    static const char *repos[2] = {"models--bert-base-uncased", "models--google-bert--bert-base-uncased"};
    for (int r = 0; r < nroots; r++) {
        for (int k = 0; k < 2 && !found; k++) {
            char *repo = join(roots[r], repos[k]);
            if (repo) found = find_in_repo(repo);
            if (repo && !found) {
                char *pattern = join(repo, "snapshots/*/vocab.txt");
                if (pattern) places_add(&looked, pattern);
                free(pattern);
            }
            free(repo);
        }
        free(roots[r]);
    }
    if (!found) {
        char list[900] = "";
        size_t len = 0;
        for (int i = 0; i < looked.n && len < sizeof list; i++)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? "; " : "", looked.place[i]);
        if (looked.n == 0) snprintf(list, sizeof list, "nowhere (no checkpoint given, HOME unset)");
        at_set_error("tokenizer: no vocab.txt for bert-base-uncased found (give one with --vocab, "
                     "or put it beside the checkpoint); looked at: %s", list);
    }
    places_free(&looked);
    return found;
}
