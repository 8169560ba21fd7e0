// adam: one Adam step over a flat range, with torch.optim.Adam's arithmetic (no weight decay, not
// amsgrad): bias corrections computed in double, eps added after dividing sqrt(v) by sqrt(1-β2^t).
// Elementwise, so split over the cores and vectorised (core/par.h); with the EMA fused in, the
// generator's update reads and writes its five arrays once instead of twice.
#include "core/ops.h"
#include "core/par.h"

// One value's update; with_ema is a constant at each call, so each loop below vectorises on its own.
static inline void adam_one(real *param, const real *grad, real *m, real *v, real *ema, real d, size_t i,
                            real beta1, real beta2, real eps, real step_size, real bc2_sqrt, int with_ema) {
    real g = grad[i];
    m[i] = m[i] * beta1 + g * (1 - beta1);
    v[i] = v[i] * beta2 + g * g * (1 - beta2);
    real denom = sqrt(v[i]) / bc2_sqrt + eps;
    real p = param[i] - step_size * m[i] / denom;
    param[i] = p;
    if (with_ema) ema[i] = d * ema[i] + (1 - d) * p;
}

// ema == NULL: plain Adam.
static void adam_impl(real *param, const real *grad, real *m, real *v, real *ema, real d, size_t n, real lr,
                      real beta1, real beta2, real eps, long step) {
    double bc1 = 1 - pow((double)beta1, (double)step), bc2 = 1 - pow((double)beta2, (double)step);
    real step_size = (real)(lr / bc1), bc2_sqrt = (real)sqrt(bc2);
    if (!ema) {
        PAR_FOR_SIMD(n)
        for (size_t i = 0; i < n; i++) adam_one(param, grad, m, v, NULL, 0, i, beta1, beta2, eps, step_size, bc2_sqrt, 0);
    } else {
        PAR_FOR_SIMD(n)
        for (size_t i = 0; i < n; i++) adam_one(param, grad, m, v, ema, d, i, beta1, beta2, eps, step_size, bc2_sqrt, 1);
    }
}

void adam_step(real *param, const real *grad, real *m, real *v, size_t n, real lr, real beta1, real beta2,
               real eps, long step) {
    adam_impl(param, grad, m, v, NULL, 0, n, lr, beta1, beta2, eps, step);
}

void adam_ema_step(real *param, const real *grad, real *m, real *v, real *ema, real ema_decay, size_t n, real lr,
                   real beta1, real beta2, real eps, long step) {
    adam_impl(param, grad, m, v, ema, ema_decay, n, lr, beta1, beta2, eps, step);
}
