// adam: one Adam step over a flat range, with torch.optim.Adam's arithmetic (no weight decay, not
// amsgrad): bias corrections computed in double, eps added after dividing sqrt(v) by sqrt(1-β2^t).
#include "core/ops.h"

void adam_step(real *param, const real *grad, real *m, real *v, size_t n, real lr, real beta1, real beta2,
               real eps, long step) {
    double bc1 = 1 - pow((double)beta1, (double)step), bc2 = 1 - pow((double)beta2, (double)step);
    real step_size = (real)(lr / bc1), bc2_sqrt = (real)sqrt(bc2);
    for (size_t i = 0; i < n; i++) {
        real g = grad[i];
        m[i] = m[i] * beta1 + g * (1 - beta1);
        v[i] = v[i] * beta2 + g * g * (1 - beta2);
        real denom = sqrt(v[i]) / bc2_sqrt + eps;
        param[i] -= step_size * m[i] / denom;
    }
}
