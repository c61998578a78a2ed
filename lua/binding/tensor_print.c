/* tostring(t): Torch7-style printing.
 *
 *    0.1725 -0.7386  0.3102
 *   -1.4187  1.0148  0.1130
 *   [aapmt.Tensor f32 of size 2x3]
 *
 * A 1-D tensor prints as a column; more than two dims print as 2-D slices
 * under headers such as "(1,.,.) =". One number format serves the whole
 * tensor (integers, fixed point with a common "0.001 *" scale, or
 * exponents), chosen from the magnitudes shown. Tensors of more than
 * LT_PRINT_SUMMARY elements show only the first and last LT_PRINT_EDGE
 * positions of each long dim, so printing never walks a huge tensor. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "binding.h"

#define LT_PRINT_SUMMARY 1000
#define LT_PRINT_EDGE 3
#define LT_PRINT_WIDTH 80

typedef struct print_plan {
    const at_tensor *t;
    bool summarized[AT_MAX_DIMS];   /* dim d shows EDGE first and EDGE last */
    int64_t shown[AT_MAX_DIMS];     /* positions shown along dim d */
} print_plan;

typedef struct number_format {
    char conv;      /* 'f' or 'e' */
    int width, precision;
    double scale;   /* values print divided by this */
} number_format;

static int64_t shown_index(const print_plan *p, int d, int64_t pos) {
    if (!p->summarized[d] || pos < LT_PRINT_EDGE) return pos;
    return p->t->shape[d] - 2 * LT_PRINT_EDGE + pos;
}

static bool gap_after(const print_plan *p, int d, int64_t pos) {
    return p->summarized[d] && pos == LT_PRINT_EDGE - 1;
}

static void make_plan(print_plan *p, const at_tensor *t) {
    p->t = t;
    bool summarize = at_numel(t) > LT_PRINT_SUMMARY;
    for (int d = 0; d < t->ndim; d++) {
        p->summarized[d] = summarize && t->shape[d] > 2 * LT_PRINT_EDGE;
        p->shown[d] = p->summarized[d] ? 2 * LT_PRINT_EDGE : t->shape[d];
    }
}

typedef struct value_stats {
    bool all_integral, any_finite, any_nonfinite;
    double min_abs, max_abs;
} value_stats;

static void gather(const print_plan *p, int d, int64_t *index, value_stats *s) {
    if (d == p->t->ndim) {
        double v = at_get(p->t, index);
        if (!isfinite(v)) {
            s->any_nonfinite = true;
            return;
        }
        double a = fabs(v);
        if (!s->any_finite || a < s->min_abs) s->min_abs = a;
        if (!s->any_finite || a > s->max_abs) s->max_abs = a;
        s->any_finite = true;
        if (v != ceil(v)) s->all_integral = false;
        return;
    }
    for (int64_t pos = 0; pos < p->shown[d]; pos++) {
        index[d] = shown_index(p, d, pos);
        gather(p, d + 1, index, s);
    }
}

static int decimal_exponent(double a) {
    return a != 0 ? (int)floor(log10(a)) + 1 : 1;
}

/* Torch7's choice of format (Storage__printformat), plus room for nan/inf. */
static number_format choose_format(const print_plan *p) {
    value_stats s = {.all_integral = true};
    int64_t index[AT_MAX_DIMS] = {0};
    gather(p, 0, index, &s);
    int exp_min = decimal_exponent(s.min_abs), exp_max = decimal_exponent(s.max_abs);
    number_format f = {.conv = 'f', .width = 7, .precision = 4, .scale = 1.0};
    if (s.all_integral) {
        if (exp_max > 9) f = (number_format){'e', 11, 4, 1.0};
        else f = (number_format){'f', exp_max + 1, 0, 1.0};
    } else if (exp_max - exp_min > 4) {
        f = (number_format){'e', 11, 4, 1.0};
        if (abs(exp_max) > 99 || abs(exp_min) > 99) f.width = 12;
    } else if (exp_max > 5 || exp_max < 0) {
        f.scale = pow(10.0, exp_max - 1);
    } else {
        f.width = exp_max == 0 ? 7 : exp_max + 6;
    }
    if (s.any_nonfinite && f.width < 4) f.width = 4;
    return f;
}

static void add_cell(luaL_Buffer *b, const number_format *f, double v) {
    char cell[64];
    if (isnan(v)) snprintf(cell, sizeof cell, "%*s", f->width, "nan");
    else if (isinf(v)) snprintf(cell, sizeof cell, "%*s", f->width, v > 0 ? "inf" : "-inf");
    else if (f->conv == 'e') snprintf(cell, sizeof cell, "%*.*e", f->width, f->precision, v / f->scale);
    else snprintf(cell, sizeof cell, "%*.*f", f->width, f->precision, v / f->scale);
    luaL_addstring(b, cell);
}

static void add_scale_header(luaL_Buffer *b, const number_format *f) {
    if (f->scale == 1.0) return;
    char line[32];
    snprintf(line, sizeof line, "%g *\n", f->scale);
    luaL_addstring(b, line);
}

static void add_gap_cell(luaL_Buffer *b, const number_format *f) {
    char cell[64];
    snprintf(cell, sizeof cell, "%*s ", f->width, "...");
    luaL_addstring(b, cell);
}

/* One row of a matrix: columns [first, last) of the shown ones. */
static void add_row(luaL_Buffer *b, const print_plan *p, const number_format *f, int64_t *index,
                    int64_t first, int64_t last) {
    int cd = p->t->ndim - 1;
    if (f->scale != 1.0) luaL_addchar(b, ' ');
    for (int64_t c = first; c < last; c++) {
        index[cd] = shown_index(p, cd, c);
        add_cell(b, f, at_get(p->t, index));
        luaL_addchar(b, c == last - 1 ? '\n' : ' ');
        if (gap_after(p, cd, c)) add_gap_cell(b, f);
    }
}

/* The last two dims as a matrix; wide ones wrap in blocks of columns. */
static void add_matrix(luaL_Buffer *b, const print_plan *p, const number_format *f, int64_t *index) {
    int rd = p->t->ndim - 2, cd = p->t->ndim - 1;
    int64_t cols = p->shown[cd];
    int64_t per_line = LT_PRINT_WIDTH / (f->width + 1);
    if (per_line < 1 || p->summarized[cd]) per_line = cols;
    for (int64_t first = 0; first < cols; first += per_line) {
        int64_t last = first + per_line < cols ? first + per_line : cols;
        if (per_line < cols) {
            char line[64];
            snprintf(line, sizeof line, "%sColumns %lld to %lld\n", first ? "\n" : "",
                     (long long)first + 1, (long long)last);
            luaL_addstring(b, line);
        }
        add_scale_header(b, f);
        for (int64_t r = 0; r < p->shown[rd]; r++) {
            index[rd] = shown_index(p, rd, r);
            add_row(b, p, f, index, first, last);
            if (gap_after(p, rd, r)) luaL_addstring(b, "...\n");
        }
    }
}

static void add_vector(luaL_Buffer *b, const print_plan *p, const number_format *f) {
    add_scale_header(b, f);
    for (int64_t pos = 0; pos < p->shown[0]; pos++) {
        int64_t i = shown_index(p, 0, pos);
        add_cell(b, f, at_get(p->t, &i));
        luaL_addchar(b, '\n');
        if (gap_after(p, 0, pos)) luaL_addstring(b, "...\n");
    }
}

/* Tensors of 3+ dims: every shown 2-D slice under a "(i,j,.,.) =" header. */
static void add_slices(luaL_Buffer *b, const print_plan *p, const number_format *f, int64_t *index,
                       int d, bool *first) {
    int nd = p->t->ndim;
    if (d == nd - 2) {
        if (!*first) luaL_addchar(b, '\n');
        *first = false;
        luaL_addchar(b, '(');
        for (int k = 0; k < d; k++) {
            char num[32];
            snprintf(num, sizeof num, "%lld,", (long long)index[k] + 1);
            luaL_addstring(b, num);
        }
        luaL_addstring(b, ".,.) =\n");
        add_matrix(b, p, f, index);
        return;
    }
    for (int64_t pos = 0; pos < p->shown[d]; pos++) {
        index[d] = shown_index(p, d, pos);
        add_slices(b, p, f, index, d + 1, first);
        if (gap_after(p, d, pos)) luaL_addstring(b, "\n...\n");
    }
}

/* A 0-dim tensor is one number: no common scale to factor out. */
static void add_scalar_value(luaL_Buffer *b, const at_tensor *t) {
    char cell[64];
    double v = at_item(t), a = fabs(v);
    if (!at_dtype_is_float(t->dtype) || (v == ceil(v) && a < 1e15)) snprintf(cell, sizeof cell, "%.0f", v);
    else if (isfinite(v) && (a == 0 || (a >= 1e-3 && a < 1e5))) snprintf(cell, sizeof cell, "%.4f", v);
    else snprintf(cell, sizeof cell, "%.4e", v);
    luaL_addstring(b, cell);
    luaL_addchar(b, '\n');
}

static void add_footer(luaL_Buffer *b, const at_tensor *t) {
    luaL_addstring(b, "[" LT_TENSOR_TYPE " ");
    luaL_addstring(b, at_dtype_name(t->dtype));
    if (t->ndim == 0) luaL_addstring(b, " scalar");
    for (int d = 0; d < t->ndim; d++) {
        char num[32];
        snprintf(num, sizeof num, "%s%lld", d ? "x" : " of size ", (long long)t->shape[d]);
        luaL_addstring(b, num);
    }
    if (t->storage->device != AT_CPU) luaL_addstring(b, " on the GPU");
    if (t->grad_fn) {
        luaL_addstring(b, ", grad_fn=");
        luaL_addstring(b, t->grad_fn->op->name);
    } else if (t->requires_grad) {
        luaL_addstring(b, ", requires_grad");
    }
    luaL_addchar(b, ']');
}

int lt_tostring(lua_State *L) {
    at_tensor *t = lt_check(L, 1, "Tensor:__tostring");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (t->storage->device != AT_CPU) {
        /* values stay on the device: the footer alone says what it is */
    } else if (t->ndim == 0) {
        add_scalar_value(&b, t);
    } else if (at_numel(t) > 0) {
        print_plan p;
        make_plan(&p, t);
        number_format f = choose_format(&p);
        int64_t index[AT_MAX_DIMS] = {0};
        bool first = true;
        if (t->ndim == 1) add_vector(&b, &p, &f);
        else if (t->ndim == 2) add_matrix(&b, &p, &f, index);
        else add_slices(&b, &p, &f, index, 0, &first);
    }
    add_footer(&b, t);
    luaL_pushresult(&b);
    return 1;
}
