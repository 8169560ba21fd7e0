// probe: the attribute probe's forward, backward and Adam step (see probe.h for the network).
// Parameters: declared once in probe_build into p->conv_w/conv_b/head_w/head_b (core/params.h);
// activations: one core/plan.h buffer laid out by probe_layout.
#include "core/probe.h"
#include "core/rng.h"
#include <stdlib.h>
#include <string.h>

static const int WIDTH[PROBE_LAYERS] = {PROBE_WIDTH1, PROBE_WIDTH2, PROBE_WIDTH3};

// ------------------------------------------------------------------ parameters and activations

// PyTorch's Conv2d/Linear default: kaiming_uniform(a=√5) = U(±1/sqrt(fan_in)), the bias the same bound.
static ParamInit fan_in_init(int fan_in) {
    real bound = 1 / sqrt((real)fan_in);
    return param_uniform(-bound, bound);
}

static size_t conv_out_numel(const ConvShape *s) { return (size_t)s->N * s->K * s->OH * s->OW; }

static void probe_layout(Plan *pl, void *ctx) {
    Probe *p = ctx;
    const int B = p->max_batch, T = p->n_logits;
    p->x = plan_reals(pl, PLAN_ACT, (size_t)B * 3 * p->side * p->side);
    for (int l = 0; l < PROBE_LAYERS; l++) {
        p->c[l] = plan_reals(pl, PLAN_ACT, conv_out_numel(&p->conv[l]));
        p->h[l] = plan_reals(pl, PLAN_ACT, conv_out_numel(&p->conv[l]));
    }
    p->pool = plan_reals(pl, PLAN_ACT, (size_t)B * PROBE_WIDTH3);
    p->argmax = plan_take(pl, PLAN_ACT, (size_t)B * PROBE_WIDTH3, sizeof(int32_t));
    p->logits = plan_reals(pl, PLAN_ACT, (size_t)B * T);
    p->prob = plan_reals(pl, PLAN_ACT, (size_t)B * T);
    for (int l = 0; l < PROBE_LAYERS; l++) {
        p->dc[l] = plan_reals(pl, PLAN_GRAD, conv_out_numel(&p->conv[l]));
        p->dh[l] = plan_reals(pl, PLAN_GRAD, conv_out_numel(&p->conv[l]));
    }
    p->dpool = plan_reals(pl, PLAN_GRAD, (size_t)B * PROBE_WIDTH3);
    p->dlogits = plan_reals(pl, PLAN_GRAD, (size_t)B * T);
}

int probe_build(Probe *p, int n_attrs, const int *n_classes, int side, int max_batch, Err *e) {
    memset(p, 0, sizeof(*p));
    if (n_attrs < 1 || n_attrs > PROBE_MAX_ATTRS)
        return err_set(e, "probe: %d attributes; the probe has 1..%d heads", n_attrs, PROBE_MAX_ATTRS);
    if (side < PROBE_MIN_SIDE || side > PROBE_MAX_SIDE)
        return err_set(e, "probe: side %d outside %d..%d", side, PROBE_MIN_SIDE, PROBE_MAX_SIDE);
    if (max_batch < 1 || max_batch > 65536) return err_set(e, "probe: batch %d outside 1..65536", max_batch);
    p->n_attrs = n_attrs;
    p->side = side;
    p->max_batch = max_batch;
    for (int a = 0; a < n_attrs; a++) {
        if (n_classes[a] < 2 || n_classes[a] > PROBE_MAX_CLASSES)
            return err_set(e, "probe: attribute %d has %d classes (each head needs 2..%d)", a, n_classes[a],
                           PROBE_MAX_CLASSES);
        p->n_classes[a] = n_classes[a];
        p->n_logits += n_classes[a];
    }
    int C = 3, H = side;
    for (int l = 0; l < PROBE_LAYERS; l++) {
        p->conv[l] = conv_shape(max_batch, C, H, H, WIDTH[l], 3, 3, 2, 2, 1, 1);
        C = WIDTH[l];
        H = p->conv[l].OH;
    }
    ParamSet *ps = &p->ps;
    const ParamKind TR = PARAM_TRAINABLE;
    C = 3;
    for (int l = 0; l < PROBE_LAYERS; l++) {
        ParamInit init = fan_in_init(C * 9);
        params_add(ps, &p->conv_w[l], TR, init, 4, (int[]){WIDTH[l], C, 3, 3}, "conv%d.weight", l + 1);
        params_add(ps, &p->conv_b[l], TR, init, 1, (int[]){WIDTH[l]}, "conv%d.bias", l + 1);
        C = WIDTH[l];
    }
    ParamInit hinit = fan_in_init(PROBE_WIDTH3);
    params_add(ps, &p->head_w, TR, hinit, 2, (int[]){p->n_logits, PROBE_WIDTH3}, "head.weight");
    params_add(ps, &p->head_b, TR, hinit, 1, (int[]){p->n_logits}, "head.bias");
    if (params_finalize(ps) || plan_build(&p->plan, probe_layout, p)) {
        probe_free(p);
        return err_set(e, "probe: out of memory (side %d, batch %d)", side, max_batch);
    }
    return 0;
}

void probe_init(Probe *p, uint64_t seed) {
    RngKey key = rng_key(seed, RNG_PROBE);
    for (int i = 0; i < p->ps.count; i++) params_init_tensor(&p->ps, i, key, (uint64_t)i);
    size_t n = p->ps.n_trainable;
    memset(p->ps.adam_m, 0, n * sizeof(real));
    memset(p->ps.adam_v, 0, n * sizeof(real));
    p->ps.adam_step = 0;
}

void probe_free(Probe *p) {
    params_free(&p->ps);
    plan_free(&p->plan);
    memset(p, 0, sizeof(*p));
}

int probe_logit_offset(const Probe *p, int a) {
    int off = 0;
    for (int b = 0; b < a; b++) off += p->n_classes[b];
    return off;
}

// ------------------------------------------------------------------ resize

int probe_resize(real *out, const real *img, int nb, int S, int side, Err *e) {
    if (S < 2) return err_set(e, "probe: image side %d (need at least 2)", S);
    if (nb <= 0) return 0;
    const int C = 3;
    if (S == side) {
        memcpy(out, img, (size_t)nb * C * S * S * sizeof(real));
        return 0;
    }
    const int k = S / side;
    if (k >= 2) {   // area: average k×k blocks (exact when side divides S)
        PoolShape ps = pool_shape(nb, C, S, S, k, k, k, k, 0, 0, 1);
        if (ps.OH == side) {
            avgpool2d_forward(out, img, &ps);
            return 0;
        }
        real *tmp = malloc((size_t)nb * C * ps.OH * ps.OW * sizeof(real));
        if (!tmp) return err_set(e, "probe: out of memory resizing %d images of %dx%d", nb, S, S);
        avgpool2d_forward(tmp, img, &ps);
        resize_bilinear_forward(out, tmp, nb, C, ps.OH, ps.OW, side, side);
        free(tmp);
        return 0;
    }
    resize_bilinear_forward(out, img, nb, C, S, S, side, side);
    return 0;
}

// ------------------------------------------------------------------ forward / backward

// The global max pool: one window over the whole last map, [nb,128,H3,W3] → [nb,128].
static PoolShape global_pool(const Probe *p, int nb) {
    const ConvShape *s = &p->conv[PROBE_LAYERS - 1];
    return pool_shape(nb, PROBE_WIDTH3, s->OH, s->OW, s->OH, s->OW, 1, 1, 0, 0, 0);
}

// x (already resized) → c, h, pool, logits, prob for nb ≤ B images.
static void forward(Probe *p, int nb) {
    const real *in = p->x;
    for (int l = 0; l < PROBE_LAYERS; l++) {
        ConvShape s = p->conv[l];
        s.N = nb;
        conv2d_forward(p->c[l], in, p->conv_w[l].v, p->conv_b[l].v, &s);   // [nb,C_l,H_l,W_l]
        leaky_relu_forward(p->h[l], p->c[l], conv_out_numel(&s), (real)PROBE_SLOPE);
        in = p->h[l];
    }
    PoolShape gp = global_pool(p, nb);
    maxpool2d_forward(p->pool, p->argmax, in, &gp);                                          // [nb,128]
    linear_forward(p->logits, p->pool, p->head_w.v, p->head_b.v, nb, PROBE_WIDTH3, p->n_logits);   // [nb,T]
    const int T = p->n_logits;
    for (int n = 0; n < nb; n++)
        for (int a = 0, off = 0; a < p->n_attrs; off += p->n_classes[a], a++)
            softmax_forward(p->prob + (size_t)n * T + off, p->logits + (size_t)n * T + off, 1, p->n_classes[a]);
}

int probe_predict_probs(Probe *p, const real *img, int nb, int S, int32_t *pred, real *probs, Err *e) {
    const int T = p->n_logits, B = p->max_batch;
    for (int n0 = 0; n0 < nb; n0 += B) {
        int m = nb - n0 < B ? nb - n0 : B;
        if (probe_resize(p->x, img + (size_t)n0 * 3 * S * S, m, S, p->side, e)) return -1;
        forward(p, m);
        probe_last_pred(p, m, pred + (size_t)n0 * p->n_attrs);
        if (probs) memcpy(probs + (size_t)n0 * T, p->prob, (size_t)m * T * sizeof(real));
    }
    return 0;
}

void probe_last_pred(const Probe *p, int nb, int32_t *pred) {
    const int T = p->n_logits;
    for (int n = 0; n < nb; n++) {
        const real *z = p->logits + (size_t)n * T;
        for (int a = 0, off = 0; a < p->n_attrs; off += p->n_classes[a], a++) {
            int best = 0;
            for (int k = 1; k < p->n_classes[a]; k++)
                if (z[off + k] > z[off + best]) best = k;
            pred[(size_t)n * p->n_attrs + a] = best;
        }
    }
}

int probe_predict(Probe *p, const real *img, int nb, int S, int32_t *pred, Err *e) {
    return probe_predict_probs(p, img, nb, S, pred, NULL, e);
}

int probe_loss_grad(Probe *p, const real *img, const int32_t *labels, int nb, int S, double *loss, Err *e) {
    if (nb < 1 || nb > p->max_batch)
        return err_set(e, "probe: batch of %d images (the probe was built for 1..%d)", nb, p->max_batch);
    const int A = p->n_attrs, T = p->n_logits;
    for (int n = 0; n < nb; n++)
        for (int a = 0; a < A; a++) {
            int32_t y = labels[(size_t)n * A + a];
            if (y < 0 || y >= p->n_classes[a])
                return err_set(e, "probe: image %d of the batch: attribute %d has label %d (the head has classes "
                                  "0..%d)", n, a, (int)y, p->n_classes[a] - 1);
        }
    if (probe_resize(p->x, img, nb, S, p->side, e)) return -1;
    forward(p, nb);
    // loss = mean over (n, a) of CE = lse(z) - z_y; dlogits = (softmax - onehot) / (nb·A)
    const double scale = 1.0 / ((double)nb * A);
    double sum = 0;
    for (int n = 0; n < nb; n++)
        for (int a = 0, off = 0; a < A; off += p->n_classes[a], a++) {
            const real *z = p->logits + (size_t)n * T + off, *q = p->prob + (size_t)n * T + off;
            real *dz = p->dlogits + (size_t)n * T + off;
            int K = p->n_classes[a], y = labels[(size_t)n * A + a];
            double mx = z[0], s = 0;
            for (int k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
            for (int k = 0; k < K; k++) s += exp((double)z[k] - mx);
            sum += mx + log(s) - z[y];
            for (int k = 0; k < K; k++) dz[k] = (real)(((double)q[k] - (k == y)) * scale);
        }
    if (loss) *loss = sum * scale;
    // backward: every op accumulates (+=), so the activation gradients and ps.grad start at zero
    params_zero_grad(&p->ps);
    memset(p->dpool, 0, (size_t)nb * PROBE_WIDTH3 * sizeof(real));
    for (int l = 0; l < PROBE_LAYERS; l++) {
        ConvShape s = p->conv[l];
        s.N = nb;
        memset(p->dh[l], 0, conv_out_numel(&s) * sizeof(real));
        memset(p->dc[l], 0, conv_out_numel(&s) * sizeof(real));
    }
    linear_backward(p->dpool, p->head_w.g, p->head_b.g, p->dlogits, p->pool, p->head_w.v, nb, PROBE_WIDTH3, T);
    PoolShape gp = global_pool(p, nb);
    maxpool2d_backward(p->dh[PROBE_LAYERS - 1], p->dpool, p->argmax, &gp);
    for (int l = PROBE_LAYERS - 1; l >= 0; l--) {   // dh[l] is complete once layer l+1's backward has run
        ConvShape s = p->conv[l];
        s.N = nb;
        leaky_relu_backward(p->dc[l], p->dh[l], p->c[l], conv_out_numel(&s), (real)PROBE_SLOPE);
        conv2d_backward(l ? p->dh[l - 1] : NULL, p->conv_w[l].g, p->conv_b[l].g, p->dc[l], l ? p->h[l - 1] : p->x,
                        p->conv_w[l].v, &s);
    }
    return 0;
}

int probe_train_step(Probe *p, const real *img, const int32_t *labels, int nb, int S, real lr, double *loss,
                     Err *e) {
    if (probe_loss_grad(p, img, labels, nb, S, loss, e)) return -1;
    ParamSet *ps = &p->ps;
    ps->adam_step++;
    adam_step(ps->data, ps->grad, ps->adam_m, ps->adam_v, ps->n_trainable, lr, (real)PROBE_BETA1, (real)PROBE_BETA2,
              (real)PROBE_ADAM_EPS, ps->adam_step);
    return 0;
}
