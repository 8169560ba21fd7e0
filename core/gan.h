// gan: one RATLIP training iteration (spec/model.md §3) over the frozen CLIP tower, NetG, NetD/NetC,
// split at the points where a data-parallel driver reduces gradients:
//
//   gan_d_backward  D step: hinge on (real, s), (real, s_mis), (fake.detach(), s) + MA-GP; D/C grads
//   [driver averages netD/netC grads over ranks]
//   gan_d_update    Adam on NetD + NetC
//   gan_g_backward  G step with the updated D: −mean D(fake) − w·mean cos(CLIP_emb(fake), s); G grads
//   [driver averages netG grads over ranks]
//   gan_g_update    Adam on NetG, then the EMA copy
//
// The mismatched sentences s_mis are an input: upstream rolls the batch by one (cat(s[1:], s[:1]));
// a data-parallel driver rolls the *global* batch so the result does not depend on the rank count.
// No MPI, no I/O here.
#pragma once
#include "core/clip.h"
#include "core/err.h"
#include "core/netd.h"
#include "core/netg.h"

typedef struct {
    real lr_g, lr_d, beta1, beta2, adam_eps;
    real sim_weight;      // CLIP similarity weight in errG (4)
    real magp_weight;     // k (2)
    real magp_p;          // p (6)
    real ema_decay;       // 0: no EMA copy; warms up as min(ema_decay, (1+t)/(10+t)) at G step t
} GanHyper;

typedef struct {
    double d_real, d_mis, d_fake, magp, d_total;   // errD parts and errD
    double g_adv, sim, g_total;                    // −mean D(fake), mean cos, errG
    double grad_norm_d, grad_norm_g;               // after the driver's reduction (gan_grad_norms)
} GanLosses;

typedef struct GanBufs GanBufs;

typedef struct {
    ClipTower clip;   // frozen, shared by G's mapper and the image encoder
    NetG g;
    NetG g_ema;       // valid when has_ema
    int has_ema;
    NetDC dc;
    GanHyper h;
    int max_batch;
    int real_size;    // side of the real images handed in (nearest-resized to CLIP's input size)
    GanBufs *buf;
} Gan;

// Declares every network and allocates activations for max_batch samples. The CLIP tower is built
// (zeros) but not initialised: load a weight file into gan->clip.ps or call clip_init_random.
int gan_build(Gan *gan, const NetGDims *gd, const NetDDims *dd, const ClipDims *cd, const GanHyper *h,
              int max_batch, int real_size, Err *e);
// Bytes of all activation buffers of one iteration (every network's plan, core/plan.h, and the
// iteration's own arrays): the activation memory, fixed at gan_build.
size_t gan_activation_bytes(const Gan *gan);
// PyTorch-default initialisation of NetG and NetD/NetC from the seed; the EMA starts as a copy.
void gan_init(Gan *gan, uint64_t seed);
void gan_free(Gan *gan);

// real[B,3,R,R] in [-1,1], s and s_mis [B,T], z [B,Z]. Zeroes and fills netD/netC grads; keeps the
// fake images and their CLIP activations for gan_g_backward. Returns -1 only if a BN hook failed.
int gan_d_backward(Gan *gan, const real *real_img, const real *s, const real *s_mis, const real *z, int B,
                   GanLosses *L);
void gan_d_update(Gan *gan);
// Uses the fake images of the last gan_d_backward. Zeroes and fills netG's grads.
int gan_g_backward(Gan *gan, const real *s, int B, GanLosses *L);
void gan_g_update(Gan *gan);
// The last fake images [B,3,S,S] (raw generator output).
const real *gan_fake(const Gan *gan);
// L2 norms of the current D (netD+netC) and G gradients.
void gan_grad_norms(const Gan *gan, double *norm_d, double *norm_g);
// Sampling: NetG (the EMA copy when use_ema and present) in eval mode (BatchNorm running stats)
// on z[B,Z], s[B,T] → img[B,3,S,S], raw output (callers clamp for display). B ≤ max_batch. Reuses
// the training activations: call between iterations, not inside one.
int gan_generate(Gan *gan, int use_ema, const real *z, const real *s, real *img, int B);
// Copies NetG's trainable values into the EMA copy and its buffers (after loading/initialising G).
void gan_ema_reset(Gan *gan);
