/* shinsou's compiled kernels: direct 2-D convolution over channels-last (NHWC) arrays,
 * and one-pass kernels for what NumPy does in several (bias + ReLU, ReLU, batch-norm
 * statistics and affine maps, max pooling, col2im, layer normalization, softmax, the
 * LSTM step, dropout, Adam), each documented where it is defined.
 *
 * NumPy's path for a convolution copies every window into one row (im2col) and calls
 * sgemm. For the small channel counts of CIFAR-style networks (16-64) that copy moves
 * 9x the input through memory and sgemm runs at a third of the machine's speed on the
 * thin matrices it gets (65536x144 @ 144x16: 42 GFLOP/s here). These kernels read the
 * input in place instead, padding by bounds checks, and keep a block of outputs in vector
 * registers while they walk over every kernel tap and input channel.
 *
 * Plain C with GCC/Clang vector extensions: one `vf` holds 16 floats, one AVX-512
 * register (the compiler splits it in two on AVX2 machines). Filters come in groups of
 * up to two vectors in the forward pass and four in the kernel gradient (F must be a
 * multiple of 16; shinsou falls back to NumPy otherwise).
 * Each kernel works on a range of batch items, rows or elements; the entry points at the
 * end of this file split their work into ranges and run them on a pool of threads (see
 * "threads" there). ctypes releases the GIL for the call.
 *
 * Layouts (all C-contiguous float32):
 *   x    (N, H, W, C)      the input, unpadded
 *   w    (KH, KW, C, F)    the kernel
 *   out  (N, OH, OW, F)    the output
 * Output pixel (oh, ow) reads x[oh*sh + i*dh - ph, ow*sw + j*dw - pw] for tap (i, j), or
 * zero where that falls outside the input.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef float vf __attribute__((vector_size(64)));
typedef int vi __attribute__((vector_size(64)));
#define V 16
#define UNROLL _Pragma("GCC unroll 16")
#define INLINE static inline __attribute__((always_inline))

typedef struct {
  long H, W, C, OH, OW, F, KH, KW, sh, sw, dh, dw, ph, pw;
} geometry;

INLINE vf load(const float *p) { vf v; memcpy(&v, p, sizeof v); return v; }
INLINE void store(float *p, vf v) { memcpy(p, &v, sizeof v); }
INLINE vf splat(float s) { return (vf){s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s}; }

/* The taps [first, stop) whose input position start + tap * step lies in [0, size). */
typedef struct { long first, stop; } span;
INLINE span valid_taps(long start, long step, long taps, long size) {
  span s = {start >= 0 ? 0 : (-start + step - 1) / step, 0};
  s.stop = start > size - 1 ? 0 : (size - 1 - start) / step + 1;
  if (s.stop > taps) s.stop = taps;
  if (s.stop < s.first) s.stop = s.first;
  return s;
}

/* Forward: PB neighbouring output pixels of one row times FB*16 filters, the taps in
 * rows `ti` and columns `tj` (all of them in bounds for every pixel of the tile). The loops
 * over PB and FB unroll fully (both are constants at every call site), so `acc` lives in
 * registers for the whole reduction over taps and channels. `x` points at image n, and
 * (h0, w0) is the tile's first window's top-left corner (negative inside the padding). */
INLINE void forward_tile(const int FB, const int PB, const float *x, long h0, long w0,
                         const float *w, float *out, const geometry *g, span ti, span tj) {
  vf acc[14][2];
  UNROLL for (int p = 0; p < PB; p++) UNROLL for (int q = 0; q < FB; q++) acc[p][q] = splat(0.f);
  const long C = g->C, F = g->F, step = g->sw * C;
  for (long i = ti.first; i < ti.stop; i++) {
    for (long j = tj.first; j < tj.stop; j++) {
      const float *xt = x + ((h0 + i * g->dh) * g->W + w0 + j * g->dw) * C;
      const float *wt = w + (i * g->KW + j) * C * F;
      for (long c = 0; c < C; c++) {
        vf wv[2];
        UNROLL for (int q = 0; q < FB; q++) wv[q] = load(wt + c * F + q * V);
        UNROLL for (int p = 0; p < PB; p++) {
          vf xv = splat(xt[p * step + c]);
          UNROLL for (int q = 0; q < FB; q++) acc[p][q] += xv * wv[q];
        }
      }
    }
  }
  UNROLL for (int p = 0; p < PB; p++) UNROLL for (int q = 0; q < FB; q++)
    store(out + p * F + q * V, acc[p][q]);
}

/* Most pixels per tile for FB filter vectors: about 24 accumulators. */
static const int MAX_PIXELS[3] = {0, 14, 12};

/* The same for the common 3-wide, stride-1, undilated kernel, sliding along the row: each
 * input value is loaded once and feeds the (up to) three outputs whose windows hold it,
 * with the three taps' kernel vectors in registers. That is 3x fewer loads per
 * multiply-add than forward_tile, whose broadcasts bound it when F is 16. LEFT and RIGHT
 * tiles lie on the row's edges with one column of padding: the first (last) input
 * column they would read is outside the input and skipped, so they need no patch. */
INLINE void forward_tile_3wide(const int FB, const int PB, const int LEFT, const int RIGHT,
                               const float *x, long h0, long w0, const float *w, float *out,
                               const geometry *g, span ti) {
  vf acc[14][2];
  UNROLL for (int p = 0; p < PB; p++) UNROLL for (int q = 0; q < FB; q++) acc[p][q] = splat(0.f);
  const long C = g->C, F = g->F;
  for (long i = ti.first; i < ti.stop; i++) {
    const float *xr = x + ((h0 + i * g->dh) * g->W + w0) * C;
    const float *wr = w + i * 3 * C * F;
    for (long c = 0; c < C; c++) {
      vf wv[3][2];
      UNROLL for (int j = 0; j < 3; j++) UNROLL for (int q = 0; q < FB; q++)
        wv[j][q] = load(wr + (j * C + c) * F + q * V);
      UNROLL for (int s = LEFT; s < PB + 2 - RIGHT; s++) {
        vf xv = splat(xr[s * C + c]);
        UNROLL for (int j = 0; j < 3; j++) {
          if (s - j >= 0 && s - j < PB)
            UNROLL for (int q = 0; q < FB; q++) acc[s - j][q] += xv * wv[j][q];
        }
      }
    }
  }
  UNROLL for (int p = 0; p < PB; p++) UNROLL for (int q = 0; q < FB; q++)
    store(out + p * F + q * V, acc[p][q]);
}

/* Accumulators plus the three taps' kernel vectors fit in 32 registers (one or two filter
 * vectors). */
static const int MAX_PIXELS_3WIDE[3] = {0, 14, 12};

#define WIDE_TILE(FB, PB, LEFT, RIGHT) \
  forward_tile_3wide(FB, PB, LEFT, RIGHT, x, h0, w0, w, out, g, ti); return;
#define WIDE_CASE(FB, PB) case PB: switch (edges) { \
    case 0: WIDE_TILE(FB, PB, 0, 0) case 1: WIDE_TILE(FB, PB, 1, 0)                   \
    case 2: WIDE_TILE(FB, PB, 0, 1) default: WIDE_TILE(FB, PB, 1, 1) }
#define WIDE_PIXELS(FB) switch (pixels) {                                                 \
    WIDE_CASE(FB, 1) WIDE_CASE(FB, 2) WIDE_CASE(FB, 3) WIDE_CASE(FB, 4) WIDE_CASE(FB, 5)     \
    WIDE_CASE(FB, 6) WIDE_CASE(FB, 7) WIDE_CASE(FB, 8) WIDE_CASE(FB, 9) WIDE_CASE(FB, 10)    \
    WIDE_CASE(FB, 11) WIDE_CASE(FB, 12) WIDE_CASE(FB, 13) WIDE_CASE(FB, 14) }

/* `edges`: 1 for a tile on the left edge, 2 on the right, 3 both (see forward_tile_3wide). */
static void forward_block_3wide(int vectors, int pixels, int edges, const float *x, long h0,
                                long w0, const float *w, float *out, const geometry *g,
                                span ti) {
  switch (vectors) {
    case 1: WIDE_PIXELS(1) return;
    case 2: WIDE_PIXELS(2) return;
  }
}

#define FORWARD_CASE(FB, PB) \
  case PB: forward_tile(FB, PB, x, h0, w0, w, out, g, ti, tj); return;
#define FORWARD_PIXELS(FB) switch (pixels) {                                              \
    FORWARD_CASE(FB, 1) FORWARD_CASE(FB, 2) FORWARD_CASE(FB, 3) FORWARD_CASE(FB, 4)          \
    FORWARD_CASE(FB, 5) FORWARD_CASE(FB, 6) FORWARD_CASE(FB, 7) FORWARD_CASE(FB, 8)          \
    FORWARD_CASE(FB, 9) FORWARD_CASE(FB, 10) FORWARD_CASE(FB, 11) FORWARD_CASE(FB, 12)       \
    FORWARD_CASE(FB, 13) FORWARD_CASE(FB, 14) }

static void forward_block(int vectors, int pixels, const float *x, long h0, long w0,
                          const float *w, float *out, const geometry *g, span ti, span tj) {
  switch (vectors) {
    case 1: FORWARD_PIXELS(1) return;
    case 2: FORWARD_PIXELS(2) return;
  }
}

/* Copy the input a tile of output pixels reads into `patch` (its tap rows one after the
 * other, `width` columns each), with zeros where the window leaves the input. Border tiles
 * then run the same register-blocked code as inner ones on the patch. */
static void fill_patch(float *patch, const float *image, long h0, long w0, long width,
                       span ti, const geometry *g) {
  const long C = g->C;
  /* Patch columns [first, stop) lie inside the input; both clamped to [0, width]. */
  long first = w0 < 0 ? -w0 : 0, stop = w0 + width > g->W ? g->W - w0 : width;
  if (first > width) first = width;
  if (stop < first) stop = first;
  for (long i = 0; i < g->KH; i++) {
    float *row = patch + i * width * C;
    if (i < ti.first || i >= ti.stop) continue; /* rows the tile skips */
    memset(row, 0, (size_t)(first * C) * sizeof(float));
    memcpy(row + first * C, image + ((h0 + i * g->dh) * g->W + w0 + first) * C,
           (size_t)((stop - first) * C) * sizeof(float));
    memset(row + stop * C, 0, (size_t)((width - stop) * C) * sizeof(float));
  }
}

/* out[n0:n1] = conv(x[n0:n1], w). Returns -1 (and writes nothing) unless F % 16 == 0, or
 * -2 if a border patch could not be allocated. */
static int conv2d_forward_range(const float *x, const float *w, float *out, long n0, long n1,
                                const geometry *g) {
  if (g->F % V != 0) return -1;
  /* The widest input span a tile reads, for the border patches. */
  long most_pixels = 14;
  long widest = (most_pixels - 1) * g->sw + (g->KW - 1) * g->dw + 1;
  float *patch = malloc((size_t)(g->KH * widest * g->C) * sizeof(float));
  if (!patch) return -2;
  /* Blocks of two filter vectors (one when F is 16): with four, each tile streamed twice
   * the kernel bytes per multiply-add from L2, and 3x3 convolutions with 64-256 filters ran
   * 15-25 % slower. Tiles of nearly equal size, none above the maximum. */
  int vectors = g->F >= 2 * V ? 2 : 1;
  int wide = g->KW == 3 && g->sw == 1 && g->dw == 1;
  long most = wide ? MAX_PIXELS_3WIDE[vectors] : MAX_PIXELS[vectors];
  long tiles = (g->OW + most - 1) / most;
  span all_columns = {0, g->KW};
  for (long n = n0; n < n1; n++) {
    const float *image = x + n * g->H * g->W * g->C;
    for (long oh = 0; oh < g->OH; oh++) {
      long h0 = oh * g->sh - g->ph;
      span ti = valid_taps(h0, g->dh, g->KH, g->H);
      float *out_row = out + (n * g->OH + oh) * g->OW * g->F;
      long ow = 0;
      for (long t = 0; t < tiles; t++) {
        long pixels = g->OW / tiles + (t < g->OW % tiles);
        long w0 = ow * g->sw - g->pw;
        long width = (pixels - 1) * g->sw + (g->KW - 1) * g->dw + 1;
        const float *source = image;
        long tile_h0 = h0, tile_w0 = w0;
        geometry local = *g;
        /* One column of padding on either side the sliding tile skips by itself. */
        int edges = wide ? (w0 == -1) | (w0 + width == g->W + 1) << 1 : 0;
        long left = edges & 1, right = edges >> 1;
        if (w0 + left < 0 || w0 + width - right > g->W) { /* leaves the input: a patch */
          fill_patch(patch, image, h0, w0, width, ti, g);
          source = patch, tile_h0 = 0, tile_w0 = 0, edges = 0;
          local.W = width, local.dh = 1;
        }
        for (long f0 = 0; f0 < g->F; f0 += vectors * V) {
          int block = g->F - f0 >= 2 * V ? vectors : 1; /* 48 filters: 2 + 1 */
          float *tile_out = out_row + ow * g->F + f0;
          if (wide)
            forward_block_3wide(block, (int)pixels, edges, source, tile_h0, tile_w0, w + f0,
                                tile_out, &local, ti);
          else
            forward_block(block, (int)pixels, source, tile_h0, tile_w0, w + f0, tile_out,
                          &local, ti, all_columns);
        }
        ow += pixels;
      }
    }
  }
  free(patch);
  return 0;
}

/* Kernel gradient: dw[tap, c0:c0+CB, f-block] += x^T g summed over `count` pixels of
 * `rows` output rows (one image). CB channels times FB filter vectors stay in registers
 * for the whole image: the sums are loaded and stored once per image, not once per row. */
INLINE void kernel_grad_tile(const int CB, const int FB, const float *x, const float *grad,
                             float *dw, long rows, long count, const geometry *g) {
  const long F = g->F, step = g->sw * g->C;
  const long x_rows = g->sh * g->W * g->C, grad_rows = g->OW * F;
  vf acc[8][4];
  UNROLL for (int c = 0; c < CB; c++) UNROLL for (int q = 0; q < FB; q++)
    acc[c][q] = load(dw + c * F + q * V);
  for (long r = 0; r < rows; r++) {
    const float *xr = x + r * x_rows, *gr = grad + r * grad_rows;
    for (long p = 0; p < count; p++) {
      vf gv[4];
      UNROLL for (int q = 0; q < FB; q++) gv[q] = load(gr + p * F + q * V);
      UNROLL for (int c = 0; c < CB; c++) {
        vf xv = splat(xr[p * step + c]);
        UNROLL for (int q = 0; q < FB; q++) acc[c][q] += xv * gv[q];
      }
    }
  }
  UNROLL for (int c = 0; c < CB; c++) UNROLL for (int q = 0; q < FB; q++)
    store(dw + c * F + q * V, acc[c][q]);
}

#define KERNEL_GRAD_CASE(CB, FB) \
  case CB: kernel_grad_tile(CB, FB, x, grad, dw, rows, count, g); return;
#define KERNEL_GRAD_CHANNELS(FB) switch (channels) {                                       \
    KERNEL_GRAD_CASE(1, FB) KERNEL_GRAD_CASE(2, FB) KERNEL_GRAD_CASE(3, FB)                    \
    KERNEL_GRAD_CASE(4, FB) KERNEL_GRAD_CASE(5, FB) KERNEL_GRAD_CASE(6, FB)                    \
    KERNEL_GRAD_CASE(7, FB) KERNEL_GRAD_CASE(8, FB) }

static void kernel_grad_block(int channels, int vectors, const float *x, const float *grad,
                              float *dw, long rows, long count, const geometry *g) {
  switch (vectors) {
    case 1: KERNEL_GRAD_CHANNELS(1) return;
    case 2: KERNEL_GRAD_CHANNELS(2) return;
    case 3: KERNEL_GRAD_CHANNELS(3) return;
    case 4: KERNEL_GRAD_CHANNELS(4) return;
  }
}

/* The kernel gradient for a 3-wide, stride-1, undilated kernel: dw[j, c0:c0+CB, f-block]
 * for the three taps j of one tap row at once, over `rows` rows of one image. Walks each
 * input row: a value is loaded once and meets the gradients of the three outputs whose
 * windows hold it (x[u] * g[u + pw - j]), so the three taps share its broadcast. */
INLINE void kernel_grad_3wide(const int CB, const int FB, const float *x, const float *grad,
                              float *dw, long rows, const geometry *g) {
  const long C = g->C, F = g->F, pw = g->pw, W = g->W, OW = g->OW;
  const long x_rows = g->sh * W * C, grad_rows = OW * F;
  vf acc[3][8][2];
  UNROLL for (int j = 0; j < 3; j++) UNROLL for (int c = 0; c < CB; c++)
    UNROLL for (int q = 0; q < FB; q++) acc[j][c][q] = load(dw + (j * C + c) * F + q * V);
  /* Inner input columns feed all three taps; the others only those whose output exists. */
  long inner_first = 2 - pw > 0 ? 2 - pw : 0, inner_stop = OW - pw < W ? OW - pw : W;
  if (inner_first > W) inner_first = W;
  if (inner_stop < inner_first) inner_stop = inner_first;
  for (long r = 0; r < rows; r++) {
    const float *x_row = x + r * x_rows, *grad_row = grad + r * grad_rows;
    for (long u = 0; u < W; u++) {
      int inner = u >= inner_first && u < inner_stop;
      vf gv[3][2];
      UNROLL for (int j = 0; j < 3; j++) {
        long p = u + pw - j;
        int valid = inner || (p >= 0 && p < OW);
        UNROLL for (int q = 0; q < FB; q++)
          gv[j][q] = valid ? load(grad_row + p * F + q * V) : splat(0.f);
      }
      UNROLL for (int c = 0; c < CB; c++) {
        vf xv = splat(x_row[u * C + c]);
        UNROLL for (int j = 0; j < 3; j++) UNROLL for (int q = 0; q < FB; q++)
          acc[j][c][q] += xv * gv[j][q];
      }
    }
  }
  UNROLL for (int j = 0; j < 3; j++) UNROLL for (int c = 0; c < CB; c++)
    UNROLL for (int q = 0; q < FB; q++) store(dw + (j * C + c) * F + q * V, acc[j][c][q]);
}

#define WIDE_GRAD_CASE(CB, FB) \
  case CB: kernel_grad_3wide(CB, FB, x, grad, dw, rows, g); return;
static void kernel_grad_block_3wide(int channels, int vectors, const float *x,
                                    const float *grad, float *dw, long rows, const geometry *g) {
  if (vectors == 1) {
    switch (channels) {
      WIDE_GRAD_CASE(1, 1) WIDE_GRAD_CASE(2, 1) WIDE_GRAD_CASE(3, 1) WIDE_GRAD_CASE(4, 1)
      WIDE_GRAD_CASE(5, 1) WIDE_GRAD_CASE(6, 1) WIDE_GRAD_CASE(7, 1) WIDE_GRAD_CASE(8, 1)
    }
  } else {
    switch (channels) {
      WIDE_GRAD_CASE(1, 2) WIDE_GRAD_CASE(2, 2) WIDE_GRAD_CASE(3, 2) WIDE_GRAD_CASE(4, 2)
    }
  }
}

/* dw += the kernel gradient of conv(x[n0:n1], .) given the output gradient grad[n0:n1].
 * Returns -1 (and adds nothing) unless F % 16 == 0. */
static int conv2d_kernel_grad_range(const float *x, const float *grad, float *dw, long n0,
                                    long n1, const geometry *g) {
  if (g->F % V != 0) return -1;
  const long C = g->C, F = g->F;
  /* 3-wide stride-1 kernels with 16-32 filters slide along the rows (1.3-1.6x). */
  int wide = g->KW == 3 && g->sw == 1 && g->dw == 1 && F <= 2 * V;
  for (long n = n0; n < n1; n++) {
    const float *image = x + n * g->H * g->W * C;
    const float *image_grad = grad + n * g->OH * g->OW * F;
    for (long i = 0; i < g->KH; i++) {
      /* The output rows whose tap row i lies inside the input. */
      span out_rows = valid_taps(i * g->dh - g->ph, g->sh, g->OH, g->H);
      long rows = out_rows.stop - out_rows.first;
      if (rows <= 0) continue;
      long h0 = out_rows.first * g->sh - g->ph + i * g->dh; /* its first input row */
      const float *grad_rows = image_grad + out_rows.first * g->OW * F;
      if (wide) {
        const float *x_rows = image + h0 * g->W * C;
        float *dw_row = dw + i * 3 * C * F;
        for (long f0 = 0; f0 < F; f0 += 2 * V) {
          int vectors = F - f0 >= 2 * V ? 2 : 1;
          long most = vectors == 1 ? 8 : 4;
          for (long c0 = 0; c0 < C; c0 += most) {
            long channels = C - c0 < most ? C - c0 : most;
            kernel_grad_block_3wide((int)channels, vectors, x_rows + c0, grad_rows + f0,
                                    dw_row + c0 * F + f0, rows, g);
          }
        }
        continue;
      }
      for (long j = 0; j < g->KW; j++) {
        /* The pixels of a row whose tap (i, j) lies inside the input. */
        long w0 = j * g->dw - g->pw;
        span pixels = valid_taps(w0, g->sw, g->OW, g->W);
        long count = pixels.stop - pixels.first;
        if (count <= 0) continue;
        const float *x_tap = image + (h0 * g->W + w0 + pixels.first * g->sw) * C;
        float *dw_tap = dw + (i * g->KW + j) * C * F;
        for (long f0 = 0; f0 < F; f0 += 4 * V) {
          int vectors = (int)((F - f0) / V);
          if (vectors > 4) vectors = 4;
          long most = vectors <= 3 ? 8 : 6; /* about 24 accumulators */
          for (long c0 = 0; c0 < C; c0 += most) {
            long channels = C - c0 < most ? C - c0 : most;
            kernel_grad_block((int)channels, vectors, x_tap + c0,
                              grad_rows + pixels.first * F + f0, dw_tap + c0 * F + f0, rows,
                              count, g);
          }
        }
      }
    }
  }
  return 0;
}

/* -- per-channel passes over (rows, C) arrays: bias + ReLU, batch-norm statistics ------ */
/* Plain loops over the channel axis; the compiler vectorises them. Each function works on
 * rows [r0, r1). */

/* y[r, c] = y[r, c] + bias[c], then max(y, 0) when relu. */
static void bias_act_forward_range(float *y, const float *bias, long r0, long r1, long C,
                                   int relu) {
  for (long r = r0; r < r1; r++) {
    float *row = y + r * C;
    if (relu) {
      for (long c = 0; c < C; c++) {
        float v = row[c] + bias[c];
        row[c] = v <= 0.f ? 0.f : v; /* NaN kept, as in NumPy and PyTorch */
      }
    } else {
      for (long c = 0; c < C; c++) row[c] += bias[c];
    }
  }
}

/* Gradient of bias_act_forward: grad_in = g masked where y <= 0 (when relu), and
 * bias_sum[c] += sum over the rows of grad_in[r, c] (NULL: not wanted). */
static void bias_act_backward_range(const float *g, const float *y, float *grad_in,
                                    double *bias_sum, long r0, long r1, long C, int relu) {
  enum { BLOCK = 64, ROWS = 256 };
  for (long c0 = 0; c0 < C; c0 += BLOCK) {
    long width = C - c0 < BLOCK ? C - c0 : BLOCK;
    for (long start = r0; start < r1; start += ROWS) {
      long stop = start + ROWS < r1 ? start + ROWS : r1;
      float acc[BLOCK] = {0};
      for (long r = start; r < stop; r++) {
        const float *gr = g + r * C + c0, *yr = y + r * C + c0;
        float *out = grad_in + r * C + c0;
        for (long c = 0; c < width; c++) {
          float v = relu && yr[c] <= 0.f ? 0.f : gr[c];
          out[c] = v;
          acc[c] += v;
        }
      }
      if (bias_sum)
        for (long c = 0; c < width; c++) bias_sum[c0 + c] += acc[c];
    }
  }
}

/* Where `mask` (may be NULL) is at most zero, `v` becomes zero: the gradient of a ReLU
 * fused after the pass, whose output is the mask. (A NaN passes, as in PyTorch.) */
INLINE vf masked(vf v, const float *mask) {
  if (!mask) return v;
  vi drop = load(mask) <= splat(0.f);
  return (vf)((vi)v & ~drop);
}

/* channel_sums for 16 * VECTORS channels: the running sums stay in registers. */
INLINE void channel_sums_vectors(const int VECTORS, const float *a, const float *b,
                                 const float *mask, double *sum_a, double *sum_ab, long r0,
                                 long r1) {
  enum { ROWS = 256 };
  const long C = VECTORS * V;
  for (long start = r0; start < r1; start += ROWS) {
    long stop = start + ROWS < r1 ? start + ROWS : r1;
    vf acc_a[4], acc_ab[4];
    UNROLL for (int q = 0; q < VECTORS; q++) acc_a[q] = acc_ab[q] = splat(0.f);
    for (long r = start; r < stop; r++) {
      UNROLL for (int q = 0; q < VECTORS; q++) {
        long at = r * C + q * V;
        vf av = masked(load(a + at), mask ? mask + at : NULL);
        acc_a[q] += av;
        acc_ab[q] += av * load(b + at);
      }
    }
    UNROLL for (int q = 0; q < VECTORS; q++) for (int k = 0; k < V; k++) {
      sum_a[q * V + k] += acc_a[q][k];
      sum_ab[q * V + k] += acc_ab[q][k];
    }
  }
}

/* sum_a[c] += sum of a[r, c]; sum_ab[c] += sum of a[r, c] * b[r, c] (float blocks of 256
 * rows, added up in double), with a taken as 0 where mask (may be NULL) is at most 0. */
static void channel_sums_range(const float *a, const float *b, const float *mask, double *sum_a,
                               double *sum_ab, long r0, long r1, long C) {
  switch (C) {
    case 16: channel_sums_vectors(1, a, b, mask, sum_a, sum_ab, r0, r1); return;
    case 32: channel_sums_vectors(2, a, b, mask, sum_a, sum_ab, r0, r1); return;
    case 48: channel_sums_vectors(3, a, b, mask, sum_a, sum_ab, r0, r1); return;
    case 64: channel_sums_vectors(4, a, b, mask, sum_a, sum_ab, r0, r1); return;
  }
  enum { BLOCK = 64, ROWS = 256 };
  for (long c0 = 0; c0 < C; c0 += BLOCK) {
    long width = C - c0 < BLOCK ? C - c0 : BLOCK;
    for (long start = r0; start < r1; start += ROWS) {
      long stop = start + ROWS < r1 ? start + ROWS : r1;
      float acc_a[BLOCK] = {0}, acc_ab[BLOCK] = {0};
      for (long r = start; r < stop; r++) {
        const float *ar = a + r * C + c0, *br = b + r * C + c0;
        const float *mr = mask ? mask + r * C + c0 : NULL;
        for (long c = 0; c < width; c++) {
          float av = mr && mr[c] <= 0.f ? 0.f : ar[c];
          acc_a[c] += av;
          acc_ab[c] += av * br[c];
        }
      }
      for (long c = 0; c < width; c++) {
        sum_a[c0 + c] += acc_a[c];
        sum_ab[c0 + c] += acc_ab[c];
      }
    }
  }
}

/* channel_affine for 16 * VECTORS channels: the per-channel vectors stay in registers. */
INLINE void channel_affine_vectors(const int VECTORS, const float *a, const float *scale_a,
                                   const float *b, const float *scale_b, const float *shift,
                                   const float *mask, int relu, float *out, long r0, long r1) {
  const long C = VECTORS * V;
  vf sa[4], sb[4], t[4];
  UNROLL for (int q = 0; q < VECTORS; q++) {
    sa[q] = load(scale_a + q * V);
    sb[q] = b ? load(scale_b + q * V) : splat(0.f);
    t[q] = load(shift + q * V);
  }
  for (long r = r0; r < r1; r++) {
    UNROLL for (int q = 0; q < VECTORS; q++) {
      long at = r * C + q * V;
      vf v = load(a + at) * sa[q] + t[q];
      if (b) v += masked(load(b + at), mask ? mask + at : NULL) * sb[q];
      if (relu) {
        vi drop = v <= splat(0.f); /* max(v, 0), NaN kept */
        v = (vf)((vi)v & ~drop);
      }
      store(out + at, v);
    }
  }
}

/* out[r, c] = a[r, c] * scale_a[c] + b[r, c] * scale_b[c] + shift[c], then max(out, 0)
 * when relu (NaN kept); b may be NULL, and is taken as 0 where mask (may be NULL) is at
 * most 0. */
static void channel_affine_range(const float *a, const float *scale_a, const float *b,
                                 const float *scale_b, const float *shift, const float *mask,
                                 int relu, float *out, long r0, long r1, long C) {
  switch (C) {
#define AFFINE(VECTORS) \
  channel_affine_vectors(VECTORS, a, scale_a, b, scale_b, shift, mask, relu, out, r0, r1); \
  return;
    case 16: AFFINE(1)
    case 32: AFFINE(2)
    case 48: AFFINE(3)
    case 64: AFFINE(4)
#undef AFFINE
  }
  for (long r = r0; r < r1; r++) {
    const float *ar = a + r * C;
    const float *br = b ? b + r * C : NULL, *mr = mask ? mask + r * C : NULL;
    float *o = out + r * C;
    for (long c = 0; c < C; c++) {
      float v = ar[c] * scale_a[c] + shift[c];
      if (br) v += (mr && mr[c] <= 0.f ? 0.f : br[c]) * scale_b[c];
      o[c] = relu && v <= 0.f ? 0.f : v;
    }
  }
}

/* -- max pooling over (N, H, W, C), 2-D windows, padding by bounds --------------------- */

typedef struct {
  long H, W, C, OH, OW, KH, KW, sh, sw, ph, pw; /* ph, pw: padding before */
} pool_geometry;

/* out = the largest value of each window; winner = its tap (i * KW + j), the first in
 * row-major order on ties. Windows must each hold at least one input pixel. */
static void max_pool_forward_range(const float *x, float *out, unsigned char *winner, long n0,
                                   long n1, const pool_geometry *g) {
  const long C = g->C;
  for (long n = n0; n < n1; n++) {
    for (long oh = 0; oh < g->OH; oh++) {
      for (long ow = 0; ow < g->OW; ow++) {
        float *o = out + ((n * g->OH + oh) * g->OW + ow) * C;
        unsigned char *win = winner + ((n * g->OH + oh) * g->OW + ow) * C;
        int first = 1;
        for (long i = 0; i < g->KH; i++) {
          long h = oh * g->sh + i - g->ph;
          if (h < 0 || h >= g->H) continue;
          for (long j = 0; j < g->KW; j++) {
            long w = ow * g->sw + j - g->pw;
            if (w < 0 || w >= g->W) continue;
            const float *xs = x + ((n * g->H + h) * g->W + w) * C;
            unsigned char tap = (unsigned char)(i * g->KW + j);
            if (first) {
              for (long c = 0; c < C; c++) { o[c] = xs[c]; win[c] = tap; }
              first = 0;
            } else {
              for (long c = 0; c < C; c++) {
                int better = xs[c] > o[c];
                o[c] = better ? xs[c] : o[c];
                win[c] = better ? tap : win[c];
              }
            }
          }
        }
      }
    }
  }
}

/* grad_x[n0:n1] = each window's output gradient at its winning tap, zero elsewhere. When
 * the windows tile the input (stride = pool, no padding) each position is written once and
 * only the uncovered edge is cleared first; otherwise the image is cleared and added to. */
static void max_pool_backward_range(const float *grad, const unsigned char *winner,
                                    float *grad_x, long n0, long n1, const pool_geometry *g) {
  const long C = g->C, H = g->H, W = g->W;
  long covered_h = g->OH * g->KH, covered_w = g->OW * g->KW;
  int tiles = g->sh == g->KH && g->sw == g->KW && g->ph == 0 && g->pw == 0 &&
              covered_h <= H && covered_w <= W; /* "same" padding after: not tiling */
  for (long n = n0; n < n1; n++) {
    float *image = grad_x + n * H * W * C;
    if (!tiles) {
      memset(image, 0, (size_t)(H * W * C) * sizeof(float));
    } else {
      for (long h = 0; h < covered_h; h++)
        memset(image + (h * W + covered_w) * C, 0, (size_t)((W - covered_w) * C) * sizeof(float));
      memset(image + covered_h * W * C, 0, (size_t)((H - covered_h) * W * C) * sizeof(float));
    }
    for (long oh = 0; oh < g->OH; oh++) {
      for (long ow = 0; ow < g->OW; ow++) {
        const float *gs = grad + ((n * g->OH + oh) * g->OW + ow) * C;
        const unsigned char *win = winner + ((n * g->OH + oh) * g->OW + ow) * C;
        for (long i = 0; i < g->KH; i++) {
          long h = oh * g->sh + i - g->ph;
          if (h < 0 || h >= H) continue;
          for (long j = 0; j < g->KW; j++) {
            long w = ow * g->sw + j - g->pw;
            if (w < 0 || w >= W) continue;
            float *gx = image + (h * W + w) * C;
            unsigned char tap = (unsigned char)(i * g->KW + j);
            if (tiles)
              for (long c = 0; c < C; c++) gx[c] = win[c] == tap ? gs[c] : 0.f;
            else
              for (long c = 0; c < C; c++) gx[c] += win[c] == tap ? gs[c] : 0.f;
          }
        }
      }
    }
  }
}

/* -- ReLU and sums over flat arrays, elements [i0, i1) ------------------------------ */

static void relu_forward_range(const float *x, float *out, long i0, long i1) {
  for (long i = i0; i < i1; i++) out[i] = x[i] <= 0.f ? 0.f : x[i]; /* NaN kept */
}

/* grad_in = g where x > 0 (or NaN), else 0. */
static void relu_backward_range(const float *g, const float *x, float *grad_in, long i0,
                                long i1) {
  for (long i = i0; i < i1; i++) grad_in[i] = x[i] <= 0.f ? 0.f : g[i];
}

/* out = a + b, then max(out, 0) when relu (NaN kept): a residual sum and the ReLU after it. */
static void add_forward_range(const float *a, const float *b, float *out, int relu, long i0,
                              long i1) {
  if (relu)
    for (long i = i0; i < i1; i++) {
      float v = a[i] + b[i];
      out[i] = v <= 0.f ? 0.f : v;
    }
  else
    for (long i = i0; i < i1; i++) out[i] = a[i] + b[i];
}

/* -- embedding gradient: a scatter-add of rows ----------------------------------------- */

/* Rows [v0, v1) of the (V, D) gradient of a table lookup: zero, then for each id i in
 * that range (in order) grad[ids[i]] += g[i]. Ids outside [0, V) add nothing. */
static void embedding_grad_range(const long long *ids, long count, const float *g, float *grad,
                                 long D, long v0, long v1) {
  memset(grad + v0 * D, 0, (size_t)((v1 - v0) * D) * sizeof(float));
  for (long i = 0; i < count; i++) {
    long long id = ids[i];
    if (id < v0 || id >= v1) continue;
    float *row = grad + id * D;
    const float *source = g + i * D;
    for (long k = 0; k < D; k++) row[k] += source[k];
  }
}

/* -- col2im: the input gradient's scatter for strided convolutions --------------------- */

/* dx[n0:n1] += every window's row of `columns` ((N*OH*OW, KH*KW*C), taps then channels)
 * added back where the window read it; positions in the padding are dropped. Uses the
 * convolution geometry (F unused). */
static void col2im_range(const float *columns, float *dx, long n0, long n1, const geometry *g) {
  const long C = g->C, taps = g->KH * g->KW;
  for (long n = n0; n < n1; n++) {
    float *image = dx + n * g->H * g->W * C;
    for (long oh = 0; oh < g->OH; oh++) {
      long h0 = oh * g->sh - g->ph;
      span ti = valid_taps(h0, g->dh, g->KH, g->H);
      for (long ow = 0; ow < g->OW; ow++) {
        long w0 = ow * g->sw - g->pw;
        span tj = valid_taps(w0, g->dw, g->KW, g->W);
        const float *row = columns + ((n * g->OH + oh) * g->OW + ow) * taps * C;
        for (long i = ti.first; i < ti.stop; i++) {
          for (long j = tj.first; j < tj.stop; j++) {
            float *target = image + ((h0 + i * g->dh) * g->W + w0 + j * g->dw) * C;
            const float *source = row + (i * g->KW + j) * C;
            for (long c = 0; c < C; c++) target[c] += source[c];
          }
        }
      }
    }
  }
}

/* -- LSTM cell: one time step's gate arithmetic around the recurrent GEMM ------------- */

/* expm1(y) for y <= 0, vectorisable: y = n ln2 + r with |r| <= ln2 / 2, expm1(r) by its
 * Taylor series to r^8 (relative error below 1e-8 there), then 2^n (1 + p) - 1. Exact to
 * float rounding near 0, where 1 - exp(y) would cancel. */
INLINE float expm1_nonpositive(float y) {
  const float ln2_hi = 0.693145751953125f, ln2_lo = 1.428606765330187e-06f;
  const float round_magic = 12582912.f; /* 1.5 * 2^23: adding it rounds to an integer */
  float n = (y * 1.4426950408889634f + round_magic) - round_magic;
  float r = (y - n * ln2_hi) - n * ln2_lo;
  float p = r * (1.f + r * (0.5f + r * (1.f / 6 + r * (1.f / 24 + r * (1.f / 120 +
            r * (1.f / 720 + r * (1.f / 5040 + r * (1.f / 40320))))))));
  int bits = ((int)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return scale * p + (scale - 1.f);
}

/* tanh(x) = -expm1(-2|x|) / (2 + expm1(-2|x|)) with the sign of x (|x| above 9: +-1). */
INLINE float tanh_float(float x) {
  float a = x < 0.f ? -x : x;
  a = a > 9.f ? 9.f : a;
  float e = expm1_nonpositive(-2.f * a);
  float t = -e / (2.f + e);
  return x < 0.f ? -t : t;
}

/* Forward arithmetic of one LSTM step for rows [b0, b1) of the batch, after the recurrent
 * GEMM. `gates` points at slot 0 (input gate) of this step; slots i, f, o, c~, tanh(c) lie
 * `slot` floats apart, each (B, U). They hold x W + b (the sigmoid gates' weights halved),
 * `recurrent` (B, 4U) holds h R in the same slot order. Writes the activated gates back,
 * tanh(c) into slot 4, c into `c_next` and h into `h_next` (rows `h_stride` apart). */
static void lstm_step_forward_range(float *gates, long slot, const float *recurrent,
                                    const float *c_prev, float *c_next, float *h_next,
                                    long h_stride, long b0, long b1, long U) {
  for (long b = b0; b < b1; b++) {
    float *in = gates + b * U, *forget = in + slot, *out = in + 2 * slot, *cand = in + 3 * slot;
    float *cell = in + 4 * slot;
    const float *rec = recurrent + b * 4 * U;
    const float *cp = c_prev + b * U;
    float *cn = c_next + b * U, *h = h_next + b * h_stride;
#pragma GCC ivdep
    for (long u = 0; u < U; u++) {
      float i = 0.5f * tanh_float(in[u] + rec[u]) + 0.5f;
      float f = 0.5f * tanh_float(forget[u] + rec[U + u]) + 0.5f;
      float o = 0.5f * tanh_float(out[u] + rec[2 * U + u]) + 0.5f;
      float g = tanh_float(cand[u] + rec[3 * U + u]);
      float c = f * cp[u] + i * g;
      float tc = tanh_float(c);
      in[u] = i, forget[u] = f, out[u] = o, cand[u] = g, cell[u] = tc;
      cn[u] = c;
      h[u] = o * tc;
    }
  }
}

/* Backward arithmetic of one LSTM step for rows [b0, b1): with dh (to which the output's
 * gradient `d_out`, rows `d_out_stride` apart, is added when not NULL) and dc flowing in,
 * writes d(loss)/d(pre-activation) of the four gates into `d_gates` (B, 4U) and leaves in
 * dc the cell gradient passed to the previous step. The caller's GEMM then replaces dh. */
static void lstm_step_backward_range(const float *gates, long slot, const float *c_prev,
                                     float *dh, const float *d_out, long d_out_stride,
                                     float *dc, float *d_gates, long b0, long b1, long U) {
  for (long b = b0; b < b1; b++) {
    const float *in = gates + b * U, *forget = in + slot, *out = in + 2 * slot;
    const float *cand = in + 3 * slot, *cell = in + 4 * slot, *cp = c_prev + b * U;
    float *dhb = dh + b * U, *dcb = dc + b * U, *dg = d_gates + b * 4 * U;
    if (d_out) {
      const float *dob = d_out + b * d_out_stride;
      for (long u = 0; u < U; u++) dhb[u] += dob[u];
    }
#pragma GCC ivdep
    for (long u = 0; u < U; u++) {
      float h_grad = dhb[u];
      float i = in[u], f = forget[u], o = out[u], g = cand[u], tc = cell[u];
      float c_grad = dcb[u] + h_grad * o * (1.f - tc * tc);
      dg[u] = c_grad * g * i * (1.f - i);
      dg[U + u] = c_grad * cp[u] * f * (1.f - f);
      dg[2 * U + u] = h_grad * tc * o * (1.f - o);
      dg[3 * U + u] = c_grad * i * (1.f - g * g);
      dcb[u] = c_grad * f;
    }
  }
}

/* -- dropout: a counter-based mask, recomputed for the backward pass ------------------- */

/* SplitMix64's finaliser: a well-mixed 64-bit value for each (seed, index). */
INLINE unsigned long long mix64(unsigned long long z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* out[i] = x[i] * scale where the top 32 bits of mix64(seed + i) reach `threshold`, else 0,
 * for i in [i0, i1). The mask depends only on (seed, i): any split of the work gives the
 * same result, and the backward pass recomputes it instead of storing it. */
static void dropout_apply_range(const float *x, float *out, unsigned long long seed,
                                unsigned int threshold, float scale, long i0, long i1) {
  for (long i = i0; i < i1; i++) {
    unsigned int bits = (unsigned int)(mix64(seed + (unsigned long long)i) >> 32);
    out[i] = bits >= threshold ? x[i] * scale : 0.f;
  }
}

/* -- layer normalization over the last axis of (rows, F) arrays ------------------------ */

/* Sum of a[k] * b[k] (b NULL: of a[k]) over k < F, sixteen lanes at a time. */
INLINE float row_dot(const float *a, const float *b, long F) {
  vf acc = splat(0.f);
  long k = 0;
  for (; k + V <= F; k += V) acc += b ? load(a + k) * load(b + k) : load(a + k);
  float total = 0.f;
  for (int lane = 0; lane < V; lane++) total += acc[lane];
  for (; k < F; k++) total += b ? a[k] * b[k] : a[k];
  return total;
}

/* Per row: xhat = (x - mean) / sqrt(var + epsilon) (kept for the backward pass, with
 * inv_std), y = xhat * gamma + beta (either may be NULL). Rows [r0, r1). */
static void layer_norm_forward_range(const float *x, const float *gamma, const float *beta,
                                     float *y, float *xhat, float *inv_std, float epsilon,
                                     long r0, long r1, long F) {
  for (long r = r0; r < r1; r++) {
    const float *xr = x + r * F;
    float *xh = xhat + r * F, *yr = y + r * F;
    float mean = row_dot(xr, NULL, F) / (float)F;
    for (long k = 0; k < F; k++) xh[k] = xr[k] - mean;
    float scale = 1.f / __builtin_sqrtf(row_dot(xh, xh, F) / (float)F + epsilon);
    inv_std[r] = scale;
    for (long k = 0; k < F; k++) {
      float v = xh[k] * scale;
      xh[k] = v;
      yr[k] = (gamma ? v * gamma[k] : v) + (beta ? beta[k] : 0.f);
    }
  }
}

/* Gradients of layer_norm_forward given dL/dy: grad_x (NULL: not wanted) per row, and the
 * column sums of g * xhat and of g added into grad_gamma and grad_beta (NULL: not wanted). */
static void layer_norm_backward_range(const float *g, const float *xhat, const float *inv_std,
                                      const float *gamma, float *grad_x, double *grad_gamma,
                                      double *grad_beta, long r0, long r1, long F) {
  for (long r = r0; r < r1; r++) {
    const float *gr = g + r * F, *xh = xhat + r * F;
    if (grad_gamma)
      for (long k = 0; k < F; k++) grad_gamma[k] += gr[k] * xh[k];
    if (grad_beta)
      for (long k = 0; k < F; k++) grad_beta[k] += gr[k];
    if (!grad_x) continue;
    float *out = grad_x + r * F; /* first dL/dxhat = g * gamma, then dL/dx in place */
    for (long k = 0; k < F; k++) out[k] = gamma ? gr[k] * gamma[k] : gr[k];
    float mean_g = row_dot(out, NULL, F) / (float)F, mean_gx = row_dot(out, xh, F) / (float)F;
    float scale = inv_std[r];
    for (long k = 0; k < F; k++) out[k] = (out[k] - xh[k] * mean_gx - mean_g) * scale;
  }
}

/* -- softmax over the last axis of (rows, F) arrays ------------------------------------ */

/* exp(y) for y <= 0 (0 below -87, where float32 would go subnormal). */
INLINE float exp_nonpositive(float y) { return y < -87.f ? 0.f : expm1_nonpositive(y) + 1.f; }

/* Largest value of a row, sixteen lanes at a time. */
INLINE float row_max(const float *a, long F) {
  float best = a[0];
  long k = 0;
  if (F >= V) {
    vf acc = load(a);
    for (k = V; k + V <= F; k += V) {
      vf v = load(a + k);
      vi larger = v > acc; /* all ones where v wins */
      acc = (vf)(((vi)v & larger) | ((vi)acc & ~larger));
    }
    for (int lane = 0; lane < V; lane++) best = acc[lane] > best ? acc[lane] : best;
  }
  for (; k < F; k++) best = a[k] > best ? a[k] : best;
  return best;
}

/* y = exp(x - max) / sum(exp(x - max)) per row, rows [r0, r1). */
static void softmax_forward_range(const float *x, float *y, long r0, long r1, long F) {
  for (long r = r0; r < r1; r++) {
    const float *xr = x + r * F;
    float *yr = y + r * F;
    float top = row_max(xr, F);
    for (long k = 0; k < F; k++) yr[k] = exp_nonpositive(xr[k] - top);
    float scale = 1.f / row_dot(yr, NULL, F);
    for (long k = 0; k < F; k++) yr[k] *= scale;
  }
}

/* dx = y (g - sum(g y)) per row. */
static void softmax_backward_range(const float *g, const float *y, float *dx, long r0, long r1,
                                   long F) {
  for (long r = r0; r < r1; r++) {
    const float *gr = g + r * F, *yr = y + r * F;
    float *out = dx + r * F;
    float total = row_dot(gr, yr, F);
    for (long k = 0; k < F; k++) out[k] = yr[k] * (gr[k] - total);
  }
}

/* -- Adam: one pass over a flat chunk of parameters, elements [i0, i1) ----------------- */

/* m += (g - m) keep_1; v += (g^2 - v) keep_2; w -= alpha m / (sqrt(v) + epsilon), with
 * keep = 1 - beta (Keras's form; alpha carries the bias corrections). Rounded step by step
 * as NumPy would (no fused multiply-adds): where v is tiny the update is sensitive to the
 * last bit, and the same rounding keeps the two code paths' trajectories together. */
__attribute__((optimize("fp-contract=off")))
static void adam_update_range(float *w, const float *g, float *m, float *v, float keep_1,
                              float keep_2, float epsilon, float alpha, long i0, long i1) {
#pragma GCC ivdep
  for (long i = i0; i < i1; i++) {
    float mi = m[i] + (g[i] - m[i]) * keep_1;
    float vi_ = v[i] + (g[i] * g[i] - v[i]) * keep_2;
    m[i] = mi;
    v[i] = vi_;
    w[i] -= mi / (__builtin_sqrtf(vi_) + epsilon) * alpha;
  }
}

/* -- threads ---------------------------------------------------------------------------- */
/* An entry point cuts its work into `parts` contiguous ranges ([count * p / parts, count *
 * (p + 1) / parts) for part p) and runs them on the calling thread and on worker threads
 * started on first use. Kernels that sum over their range add into a total of their own
 * per part (the caller adds the totals up in part order: results do not depend on which
 * thread ran what).
 *
 * The calling thread and the workers claim parts one at a time until none is left, so a
 * worker that is slow to wake (or whose core NumPy's BLAS threads hold) takes fewer parts
 * instead of holding the caller up. Python's thread pool cost ~60 us per hand-off (the
 * worker waking, then taking the GIL), a tenth of a ResNet-20 kernel; these workers stay
 * awake for SPIN_NS after each job, yielding their core to any thread that wants it, so
 * that the next job, usually a few hundred microseconds later, finds them ready; then they
 * sleep on a condition variable. One job runs at a time: a call that finds the pool busy
 * (another Python thread's job) runs its parts itself. */

typedef int (*part_task)(const void *job, long start, long stop, long part);

enum { MAX_WORKERS = 63, MAX_PARTS = 0xffff };
static long SPIN_NS = 300000;

static struct {
  pthread_mutex_t busy;  /* held by the thread whose job is posted */
  pthread_mutex_t lock;  /* with `wake`: where idle workers sleep */
  pthread_cond_t wake;
  int started;           /* workers running */
  unsigned long jobs;    /* jobs posted so far */
  atomic_ulong posted;   /* the latest job's number */
  atomic_ulong claim;    /* job number << 32 | parts << 16 | next part to claim */
  atomic_long done;      /* parts of the job finished */
  atomic_int status;     /* a failing part's status, else 0 */
  atomic_int sleepers;
  part_task task;
  const void *job;
  long count;
} pool = {.busy = PTHREAD_MUTEX_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER,
          .wake = PTHREAD_COND_INITIALIZER};

static long monotonic_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000L + t.tv_nsec;
}

INLINE void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/* Claim and run parts of job `number` until none is left. A successful claim means the
 * job is still posted (its poster waits for the part), so its fields stay valid. */
static void help(unsigned long number) {
  for (;;) {
    unsigned long claim = atomic_load_explicit(&pool.claim, memory_order_acquire);
    long part = (long)(claim & MAX_PARTS), parts = (long)((claim >> 16) & MAX_PARTS);
    if (claim >> 32 != (number & 0xffffffffUL) || part >= parts) return;
    if (!atomic_compare_exchange_weak_explicit(&pool.claim, &claim, claim + 1,
                                               memory_order_acq_rel, memory_order_acquire))
      continue;
    long start = pool.count * part / parts, stop = pool.count * (part + 1) / parts;
    int status = pool.task(pool.job, start, stop, part);
    if (status) atomic_store(&pool.status, status);
    atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
  }
}

/* Wait for a job after `seen`: awake for SPIN_NS, then asleep. */
static unsigned long next_job(unsigned long seen) {
  long deadline = monotonic_ns() + SPIN_NS;
  for (long i = 1;; i++) {
    unsigned long posted = atomic_load_explicit(&pool.posted, memory_order_acquire);
    if (posted != seen) return posted;
    sched_yield(); /* a thread with work to do (NumPy's BLAS threads) gets the core */
    if (i % 16 == 0 && monotonic_ns() > deadline) break;
  }
  /* The count of sleepers goes up before `posted` is read again, and run_parts updates
   * `posted` before it reads the count: one of the two sees the other. */
  pthread_mutex_lock(&pool.lock);
  atomic_fetch_add(&pool.sleepers, 1);
  unsigned long posted;
  while ((posted = atomic_load(&pool.posted)) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
  atomic_fetch_sub(&pool.sleepers, 1);
  pthread_mutex_unlock(&pool.lock);
  return posted;
}

static void *worker_main(void *unused) {
  (void)unused;
  for (unsigned long seen = atomic_load(&pool.posted);;) {
    seen = next_job(seen);
    help(seen);
  }
  return NULL;
}

/* A forked child has none of the parent's threads: start over. */
static void forget_workers(void) {
  pthread_mutex_init(&pool.busy, NULL);
  pthread_mutex_init(&pool.lock, NULL);
  pthread_cond_init(&pool.wake, NULL);
  pool.started = 0;
  atomic_store(&pool.sleepers, 0);
}

static void register_fork_handler(void) {
  pthread_atfork(NULL, NULL, forget_workers);
  const char *spin = getenv("SHINSOU_SPIN_NS");
  if (spin) SPIN_NS = atol(spin);
}

/* Start workers up to `wanted` (called with `busy` held); returns how many exist. */
static long start_workers(long wanted) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, register_fork_handler);
  if (wanted > MAX_WORKERS) wanted = MAX_WORKERS;
  while (pool.started < wanted) {
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    int failed = pthread_create(&thread, &attributes, worker_main, NULL);
    pthread_attr_destroy(&attributes);
    if (failed) break;
    pool.started++;
  }
  return pool.started;
}

/* Run task over [0, count) cut into `parts` ranges; returns the last nonzero status of a
 * part, else 0. */
static int run_parts(part_task task, const void *job, long count, long parts) {
  if (parts > count) parts = count;
  if (parts > MAX_PARTS) parts = MAX_PARTS;
  if (parts < 1) parts = 1;
  if (parts > 1 && pthread_mutex_trylock(&pool.busy) == 0) {
    if (start_workers(parts - 1) > 0) {
      pool.task = task, pool.job = job, pool.count = count;
      atomic_store(&pool.status, 0);
      atomic_store(&pool.done, 0);
      unsigned long number = ++pool.jobs;
      atomic_store_explicit(&pool.claim, (number & 0xffffffffUL) << 32 | (unsigned long)parts << 16,
                            memory_order_release);
      atomic_store(&pool.posted, number);
      int asleep = atomic_load(&pool.sleepers);
      if (asleep > 0) { /* wake as many as there are parts for (awake ones find it too) */
        pthread_mutex_lock(&pool.lock);
        for (long k = 0; k < parts - 1 && k < asleep; k++) pthread_cond_signal(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
      }
      help(number);
      /* Every part is claimed: wait for those still running elsewhere. */
      for (long i = 1; atomic_load_explicit(&pool.done, memory_order_acquire) < parts; i++)
        if (i < 4096) cpu_relax(); else sched_yield();
      int status = atomic_load(&pool.status);
      pthread_mutex_unlock(&pool.busy);
      return status;
    }
    pthread_mutex_unlock(&pool.busy);
  }
  int status = 0;
  for (long p = 0; p < parts; p++) {
    int s = task(job, count * p / parts, count * (p + 1) / parts, p);
    if (s) status = s;
  }
  return status;
}

/* -- entry points ------------------------------------------------------------------------ */
/* Each kernel above, over all of its work cut into `parts` (see "threads"): a job struct
 * with its arguments, a task that runs one range, the exported function. Per-part totals
 * (kernel, bias, batch-norm and layer-norm gradients) are `parts` consecutive blocks, the
 * first at the pointer given. */

typedef struct { const float *x, *w; float *out; const geometry *g; } conv_job;

static int conv2d_forward_part(const void *job, long n0, long n1, long part) {
  const conv_job *j = job;
  (void)part;
  return conv2d_forward_range(j->x, j->w, j->out, n0, n1, j->g);
}

int conv2d_forward(const float *x, const float *w, float *out, long n, long parts,
                   const geometry *g) {
  if (g->F % V != 0) return -1;
  return run_parts(conv2d_forward_part, &(conv_job){x, w, out, g}, n, parts);
}

static int conv2d_kernel_grad_part(const void *job, long n0, long n1, long part) {
  const conv_job *j = job; /* x, grad (as w), dw totals (as out) */
  const geometry *g = j->g;
  return conv2d_kernel_grad_range(j->x, j->w, j->out + part * g->KH * g->KW * g->C * g->F,
                                  n0, n1, g);
}

int conv2d_kernel_grad(const float *x, const float *grad, float *dw, long n, long parts,
                       const geometry *g) {
  if (g->F % V != 0) return -1;
  return run_parts(conv2d_kernel_grad_part, &(conv_job){x, grad, dw, g}, n, parts);
}

typedef struct { const float *columns; float *dx; const geometry *g; } col2im_job;

static int col2im_part(const void *job, long n0, long n1, long part) {
  const col2im_job *j = job;
  (void)part;
  col2im_range(j->columns, j->dx, n0, n1, j->g);
  return 0;
}

int col2im(const float *columns, float *dx, long n, long parts, const geometry *g) {
  return run_parts(col2im_part, &(col2im_job){columns, dx, g}, n, parts);
}

typedef struct { const float *g, *y; float *grad_in; double *bias_sum; float *y_out;
                 const float *bias; long C; int relu; } bias_job;

static int bias_act_forward_part(const void *job, long r0, long r1, long part) {
  const bias_job *j = job;
  (void)part;
  bias_act_forward_range(j->y_out, j->bias, r0, r1, j->C, j->relu);
  return 0;
}

int bias_act_forward(float *y, const float *bias, long rows, long parts, long C, int relu) {
  bias_job job = {.y_out = y, .bias = bias, .C = C, .relu = relu};
  return run_parts(bias_act_forward_part, &job, rows, parts);
}

static int bias_act_backward_part(const void *job, long r0, long r1, long part) {
  const bias_job *j = job;
  double *sum = j->bias_sum ? j->bias_sum + part * j->C : NULL;
  bias_act_backward_range(j->g, j->y, j->grad_in, sum, r0, r1, j->C, j->relu);
  return 0;
}

int bias_act_backward(const float *g, const float *y, float *grad_in, double *bias_sum,
                      long rows, long parts, long C, int relu) {
  bias_job job = {.g = g, .y = y, .grad_in = grad_in, .bias_sum = bias_sum, .C = C,
                  .relu = relu};
  return run_parts(bias_act_backward_part, &job, rows, parts);
}

typedef struct { const float *a, *scale_a, *b, *scale_b, *shift, *mask; float *out;
                 double *sums; long C; int relu; } channel_job;

static int channel_sums_part(const void *job, long r0, long r1, long part) {
  const channel_job *j = job;
  double *sum_a = j->sums + part * 2 * j->C;
  channel_sums_range(j->a, j->b, j->mask, sum_a, sum_a + j->C, r0, r1, j->C);
  return 0;
}

/* Per part, sums[0:C] gets the sums of a and sums[C:2C] those of a * b. */
int channel_sums(const float *a, const float *b, const float *mask, double *sums, long rows,
                 long parts, long C) {
  channel_job job = {.a = a, .b = b, .mask = mask, .sums = sums, .C = C};
  return run_parts(channel_sums_part, &job, rows, parts);
}

static int channel_affine_part(const void *job, long r0, long r1, long part) {
  const channel_job *j = job;
  (void)part;
  channel_affine_range(j->a, j->scale_a, j->b, j->scale_b, j->shift, j->mask, j->relu, j->out,
                       r0, r1, j->C);
  return 0;
}

int channel_affine(const float *a, const float *scale_a, const float *b, const float *scale_b,
                   const float *shift, const float *mask, int relu, float *out, long rows,
                   long parts, long C) {
  channel_job job = {a, scale_a, b, scale_b, shift, mask, out, NULL, C, relu};
  return run_parts(channel_affine_part, &job, rows, parts);
}

typedef struct { const float *x; float *out; unsigned char *winner;
                 const unsigned char *winner_in; const pool_geometry *g; } pool_job;

static int max_pool_forward_part(const void *job, long n0, long n1, long part) {
  const pool_job *j = job;
  (void)part;
  max_pool_forward_range(j->x, j->out, j->winner, n0, n1, j->g);
  return 0;
}

int max_pool_forward(const float *x, float *out, unsigned char *winner, long n, long parts,
                     const pool_geometry *g) {
  pool_job job = {.x = x, .out = out, .winner = winner, .g = g};
  return run_parts(max_pool_forward_part, &job, n, parts);
}

static int max_pool_backward_part(const void *job, long n0, long n1, long part) {
  const pool_job *j = job; /* grad (as x), grad_x (as out) */
  (void)part;
  max_pool_backward_range(j->x, j->winner_in, j->out, n0, n1, j->g);
  return 0;
}

int max_pool_backward(const float *grad, const unsigned char *winner, float *grad_x, long n,
                      long parts, const pool_geometry *g) {
  pool_job job = {.x = grad, .out = grad_x, .winner_in = winner, .g = g};
  return run_parts(max_pool_backward_part, &job, n, parts);
}

/* Elementwise passes over flat arrays. */
typedef struct { const float *a, *b; float *out; int relu; } elementwise_job;

static int relu_forward_part(const void *job, long i0, long i1, long part) {
  const elementwise_job *j = job;
  (void)part;
  relu_forward_range(j->a, j->out, i0, i1);
  return 0;
}

int relu_forward(const float *x, float *out, long size, long parts) {
  return run_parts(relu_forward_part, &(elementwise_job){x, NULL, out, 0}, size, parts);
}

static int relu_backward_part(const void *job, long i0, long i1, long part) {
  const elementwise_job *j = job; /* g (as a), x (as b) */
  (void)part;
  relu_backward_range(j->a, j->b, j->out, i0, i1);
  return 0;
}

int relu_backward(const float *g, const float *x, float *grad_in, long size, long parts) {
  return run_parts(relu_backward_part, &(elementwise_job){g, x, grad_in, 0}, size, parts);
}

static int add_forward_part(const void *job, long i0, long i1, long part) {
  const elementwise_job *j = job;
  (void)part;
  add_forward_range(j->a, j->b, j->out, j->relu, i0, i1);
  return 0;
}

int add_forward(const float *a, const float *b, float *out, int relu, long size, long parts) {
  return run_parts(add_forward_part, &(elementwise_job){a, b, out, relu}, size, parts);
}

/* out[r] = a[r] @ w for the rows r of a (rows, K; rows `stride` floats apart), w (K, N),
 * N % 16 == 0: the 1x1 convolution of one image row of `rows` pixels (rows lying apart are
 * copied together first). Returns conv2d_forward_range's status, or -2 if out of memory. */
static int matmul_rows(const float *a, long stride, const float *w, float *out, long rows,
                       long K, long N) {
  geometry g = {.H = 1, .W = rows, .C = K, .OH = 1, .OW = rows, .F = N, .KH = 1, .KW = 1,
                .sh = 1, .sw = 1, .dh = 1, .dw = 1};
  if (stride == K) return conv2d_forward_range(a, w, out, 0, 1, &g);
  float *packed = malloc((size_t)(rows * K) * sizeof(float));
  if (!packed) return -2;
  for (long r = 0; r < rows; r++) memcpy(packed + r * K, a + r * stride, (size_t)K * sizeof(float));
  int status = conv2d_forward_range(packed, w, out, 0, 1, &g);
  free(packed);
  return status;
}

typedef struct { float *gates; long slot; const float *h_prev, *weights; float *recurrent;
                 const float *c_prev, *d_out; float *c, *h, *d_gates, *dh_next;
                 long stride, U; } lstm_job;

/* Rows [b0, b1): with `weights` (U, 4U), first recurrent = h_prev @ weights for them. */
static int lstm_step_forward_part(const void *job, long b0, long b1, long part) {
  const lstm_job *j = job; /* c_next (as c), h_next (as h) */
  (void)part;
  if (j->weights) {
    int status = matmul_rows(j->h_prev + b0 * j->stride, j->stride, j->weights,
                             j->recurrent + b0 * 4 * j->U, b1 - b0, j->U, 4 * j->U);
    if (status) return status;
  }
  lstm_step_forward_range(j->gates, j->slot, j->recurrent, j->c_prev, j->c, j->h, j->stride, b0,
                          b1, j->U);
  return 0;
}

/* One forward step; `h_prev` (rows `h_stride` apart, like h_next's) and `weights` may be
 * NULL when `recurrent` holds h R already. */
int lstm_step_forward(float *gates, long slot, const float *h_prev, const float *weights,
                      float *recurrent, const float *c_prev, float *c_next, float *h_next,
                      long h_stride, long batch, long parts, long U) {
  lstm_job job = {.gates = gates, .slot = slot, .h_prev = h_prev, .weights = weights,
                  .recurrent = recurrent, .c_prev = c_prev, .c = c_next, .h = h_next,
                  .stride = h_stride, .U = U};
  return run_parts(lstm_step_forward_part, &job, batch, parts);
}

/* Rows [b0, b1): with `weights` (the transposed recurrent kernel, (4U, U)), then
 * dh_next = d_gates @ weights for them. */
static int lstm_step_backward_part(const void *job, long b0, long b1, long part) {
  const lstm_job *j = job; /* dh (as h), dc (as c) */
  (void)part;
  lstm_step_backward_range(j->gates, j->slot, j->c_prev, j->h, j->d_out, j->stride, j->c,
                           j->d_gates, b0, b1, j->U);
  if (!j->weights) return 0;
  return matmul_rows(j->d_gates + b0 * 4 * j->U, 4 * j->U, j->weights, j->dh_next + b0 * j->U,
                     b1 - b0, 4 * j->U, j->U);
}

/* One backward step; `weights` and `dh_next` may be NULL (the caller's GEMM follows). */
int lstm_step_backward(const float *gates, long slot, const float *c_prev, float *dh,
                       const float *d_out, long d_out_stride, float *dc, float *d_gates,
                       const float *weights, float *dh_next, long batch, long parts, long U) {
  lstm_job job = {.gates = (float *)gates, .slot = slot, .c_prev = c_prev, .h = dh,
                  .d_out = d_out, .stride = d_out_stride, .c = dc, .d_gates = d_gates,
                  .weights = weights, .dh_next = dh_next, .U = U};
  return run_parts(lstm_step_backward_part, &job, batch, parts);
}

typedef struct { const long long *ids; long count; const float *g; float *grad; long D; }
    embedding_job;

static int embedding_grad_part(const void *job, long v0, long v1, long part) {
  const embedding_job *j = job;
  (void)part;
  embedding_grad_range(j->ids, j->count, j->g, j->grad, j->D, v0, v1);
  return 0;
}

/* Parts are ranges of the table's rows; each scans all the ids. */
int embedding_grad(const long long *ids, long count, const float *g, float *grad,
                   long vocabulary, long parts, long D) {
  embedding_job job = {ids, count, g, grad, D};
  return run_parts(embedding_grad_part, &job, vocabulary, parts);
}

typedef struct { const float *x; float *out; unsigned long long seed; unsigned int threshold;
                 float scale; } dropout_job;

static int dropout_apply_part(const void *job, long i0, long i1, long part) {
  const dropout_job *j = job;
  (void)part;
  dropout_apply_range(j->x, j->out, j->seed, j->threshold, j->scale, i0, i1);
  return 0;
}

int dropout_apply(const float *x, float *out, unsigned long long seed, unsigned int threshold,
                  float scale, long size, long parts) {
  dropout_job job = {x, out, seed, threshold, scale};
  return run_parts(dropout_apply_part, &job, size, parts);
}

typedef struct { const float *x, *gamma, *beta, *xhat_in, *inv_std_in; float *y, *xhat,
                 *inv_std; double *grad_gamma, *grad_beta; float epsilon; long F; } norm_job;

static int layer_norm_forward_part(const void *job, long r0, long r1, long part) {
  const norm_job *j = job;
  (void)part;
  layer_norm_forward_range(j->x, j->gamma, j->beta, j->y, j->xhat, j->inv_std, j->epsilon, r0,
                           r1, j->F);
  return 0;
}

int layer_norm_forward(const float *x, const float *gamma, const float *beta, float *y,
                       float *xhat, float *inv_std, float epsilon, long rows, long parts, long F) {
  norm_job job = {.x = x, .gamma = gamma, .beta = beta, .y = y, .xhat = xhat,
                  .inv_std = inv_std, .epsilon = epsilon, .F = F};
  return run_parts(layer_norm_forward_part, &job, rows, parts);
}

static int layer_norm_backward_part(const void *job, long r0, long r1, long part) {
  const norm_job *j = job; /* g (as x), grad_x (as y) */
  double *grad_gamma = j->grad_gamma ? j->grad_gamma + part * 2 * j->F : NULL;
  double *grad_beta = j->grad_beta ? j->grad_beta + part * 2 * j->F : NULL;
  layer_norm_backward_range(j->x, j->xhat_in, j->inv_std_in, j->gamma, j->y, grad_gamma,
                            grad_beta, r0, r1, j->F);
  return 0;
}

/* Per-part totals are 2F apart (gamma's and beta's side by side). */
int layer_norm_backward(const float *g, const float *xhat, const float *inv_std,
                        const float *gamma, float *grad_x, double *grad_gamma,
                        double *grad_beta, long rows, long parts, long F) {
  norm_job job = {.x = g, .xhat_in = xhat, .inv_std_in = inv_std, .gamma = gamma, .y = grad_x,
                  .grad_gamma = grad_gamma, .grad_beta = grad_beta, .F = F};
  return run_parts(layer_norm_backward_part, &job, rows, parts);
}

typedef struct { const float *g, *y; float *out; long F; } softmax_job;

static int softmax_forward_part(const void *job, long r0, long r1, long part) {
  const softmax_job *j = job; /* x (as g), y (as out) */
  (void)part;
  softmax_forward_range(j->g, j->out, r0, r1, j->F);
  return 0;
}

int softmax_forward(const float *x, float *y, long rows, long parts, long F) {
  return run_parts(softmax_forward_part, &(softmax_job){x, NULL, y, F}, rows, parts);
}

static int softmax_backward_part(const void *job, long r0, long r1, long part) {
  const softmax_job *j = job;
  (void)part;
  softmax_backward_range(j->g, j->y, j->out, r0, r1, j->F);
  return 0;
}

int softmax_backward(const float *g, const float *y, float *dx, long rows, long parts, long F) {
  return run_parts(softmax_backward_part, &(softmax_job){g, y, dx, F}, rows, parts);
}

typedef struct { float *w, *m, *v; const float *g; float keep_1, keep_2, epsilon, alpha; }
    adam_job;

static int adam_update_part(const void *job, long i0, long i1, long part) {
  const adam_job *j = job;
  (void)part;
  adam_update_range(j->w, j->g, j->m, j->v, j->keep_1, j->keep_2, j->epsilon, j->alpha, i0, i1);
  return 0;
}

int adam_update(float *w, const float *g, float *m, float *v, float keep_1, float keep_2,
                float epsilon, float alpha, long size, long parts) {
  adam_job job = {w, m, v, g, keep_1, keep_2, epsilon, alpha};
  return run_parts(adam_update_part, &job, size, parts);
}
