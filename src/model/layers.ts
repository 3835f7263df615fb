/**
 * Layers as functions of a {@linkcode ForwardContext}: each declares its parameters in a
 * `ParamBuilder` and applies them by name. Every op here has a correct gradient on cpu, wasm
 * (with the project's kernels) and webgpu; nearest up-sampling is written as a broadcast so that
 * no backend's ResizeNearestNeighborGrad is needed.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { ForwardContext, ParamBuilder } from "./context.ts";
import { channelSum as wasmChannelSum, groupNormGrad } from "../backend/wasm/backward.ts";
import { inferenceFusion } from "./fusion.ts";
import { groupNormWasmFused } from "../backend/wasm/group_norm.ts";
import { attentionWasmFused } from "../backend/wasm/attention.ts";

/** The function type tf.customGrad takes (its multi-input form is not expressible in its typings). */
type CustomGradFunc = Parameters<typeof tf.customGrad>[0];

/**
 * Declares a k×k conv (He-normal, or zeros when `zero`), with a bias unless `bias` is false
 * (a conv followed by BatchNorm: the norm cancels any per-channel constant, so a bias there only
 * collects rounding noise that Adam would amplify).
 */
export function declareConv(
  b: ParamBuilder,
  name: string,
  k: number,
  cin: number,
  cout: number,
  zero = false,
  bias = true,
): void {
  if (zero) b.constant(`${name}.w`, [k, k, cin, cout], 0);
  else b.normal(`${name}.w`, [k, k, cin, cout], Math.sqrt(2 / (k * k * cin)));
  if (bias) b.constant(`${name}.b`, [cout], 0);
}

/** Applies a conv declared by {@linkcode declareConv}; stride 2 pads 1 on each side as PyTorch does. */
export function conv(ctx: ForwardContext, name: string, x: tf.Tensor4D, stride = 1): tf.Tensor4D {
  const w = ctx.p(`${name}.w`) as unknown as tf.Tensor4D;
  const [k, , cin, cout] = w.shape;
  const pad = (k - 1) >> 1;
  const padding: "same" | [[number, number], [number, number], [number, number], [number, number]] =
    stride === 1 ? "same" : [[0, 0], [pad, pad], [pad, pad], [0, 0]];
  const b = ctx.params.get(`${name}.b`);
  // inference: the bias inside the convolution (no separate pass over the output)
  const fused = b && !ctx.training && inferenceFusion();
  const y = fused
    ? tf.fused.conv2d({ x, filter: w, strides: stride, pad: padding, bias: b })
    : tf.conv2d(x, w, stride, padding);
  const [, ho, wo] = y.shape;
  ctx.flops += 2 * x.shape[0] * ho * wo * k * k * cin * cout;
  return b && !fused ? addBias(y, b) : y;
}

/**
 * y + b for a per-channel bias, whose gradient sums dy over batch and positions as a product with
 * a ones row (one GEMM on wasm, where a Sum over the outer axes transposes the tensor first).
 */
export function addBias<T extends tf.Tensor>(y: T, b: tf.Tensor): T {
  const c = b.shape[0];
  const op = tf.customGrad(
    ((yIn: tf.Tensor, bIn: tf.Tensor) => ({
      value: tf.add(yIn, bIn),
      gradFunc: (dy: tf.Tensor) => {
        const rows = dy.size / c;
        return [
          dy,
          wasmChannelSum(dy) ?? tf.reshape(tf.matMul(tf.ones([1, rows]), tf.reshape(dy, [rows, c])), [c]),
        ];
      },
    })) as unknown as CustomGradFunc,
  );
  return op(y, b) as T;
}

/** Declares a 2×2 stride-2 transposed conv (the seed's up-sampler). */
export function declareConvTranspose(b: ParamBuilder, name: string, cin: number, cout: number): void {
  b.normal(`${name}.w`, [2, 2, cout, cin], Math.sqrt(2 / (4 * cin)));
  b.constant(`${name}.b`, [cout], 0);
}

/** Applies a 2×2 stride-2 transposed conv: [B,H,W,cin] → [B,2H,2W,cout]. */
export function convTranspose(ctx: ForwardContext, name: string, x: tf.Tensor4D): tf.Tensor4D {
  const w = ctx.p(`${name}.w`) as unknown as tf.Tensor4D;
  const [bsz, h, wd, cin] = x.shape;
  const cout = w.shape[2];
  const y = tf.conv2dTranspose(x, w, [bsz, 2 * h, 2 * wd, cout], 2, "valid");
  ctx.flops += 2 * bsz * h * wd * 4 * cin * cout;
  return addBias(y, ctx.p(`${name}.b`));
}

/** Declares a dense layer [cin → cout] (He-normal, or zeros). */
export function declareDense(b: ParamBuilder, name: string, cin: number, cout: number, zero = false): void {
  if (zero) b.constant(`${name}.w`, [cin, cout], 0);
  else b.normal(`${name}.w`, [cin, cout], Math.sqrt(1 / cin));
  b.constant(`${name}.b`, [cout], 0);
}

/** Applies a dense layer to [N, cin]. */
export function dense(ctx: ForwardContext, name: string, x: tf.Tensor2D): tf.Tensor2D {
  const w = ctx.p(`${name}.w`) as unknown as tf.Tensor2D;
  ctx.flops += 2 * x.shape[0] * w.shape[0] * w.shape[1];
  return tf.add(tf.matMul(x, w), ctx.p(`${name}.b`)) as tf.Tensor2D;
}

/** SiLU (swish): x·σ(x). */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

/** Declares a norm's gain (ones) and bias (zeros). */
export function declareNorm(b: ParamBuilder, name: string, c: number): void {
  b.constant(`${name}.g`, [c], 1);
  b.constant(`${name}.b`, [c], 0);
}

/**
 * GroupNorm over `groups` channel groups (ε = 1e-5), then the per-channel affine, then SiLU when
 * `activate`. One fused op with a hand-written gradient: autodiff through `tf.moments` runs ~45
 * small kernels per norm, this runs ~15, which is most of a CPU training step's non-conv time.
 * Backward, with x̂ the normalised input and z = γx̂ + β: dz = dy·σ(z)(1 + z(1 − σ(z))),
 * dγ = Σ dz·x̂, dβ = Σ dz, dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) over each group, dx̂ = γ·dz.
 * `shift` ([B, C], e.g. a timestep embedding) is added to x first. In inference on wasm (with
 * {@linkcode inferenceFusion}) the norm is one kernel: two passes over x, then SiLU's two.
 */
export function groupNorm(
  ctx: ForwardContext,
  name: string,
  x: tf.Tensor4D,
  groups: number,
  activate = false,
  shift?: tf.Tensor2D,
): tf.Tensor4D {
  const [bsz, h, w, c] = x.shape;
  if (c % groups !== 0) {
    throw new RangeError(`GroupNorm "${name}": ${c} channels do not split into ${groups} groups`);
  }
  if (!ctx.training && inferenceFusion() && tf.getBackend() === "wasm") {
    const z = groupNormWasmFused(x, ctx.p(`${name}.g`), ctx.p(`${name}.b`), shift ?? null, groups, false);
    return activate ? silu(z) as tf.Tensor4D : z;
  }
  if (shift) x = tf.add(x, tf.reshape(shift, [bsz, 1, 1, c]));
  const cg = c / groups, n = h * w;
  /** Per-group mean over positions and the group's channels: [B,N,G,Cg] → [B,1,G,1]. */
  const groupMean = (t: tf.Tensor) => tf.mean(t, [1, 3], true);
  // The sum over batch and positions runs as a product with a ones row: on wasm that is one XNNPACK
  // GEMM (~0.5 ms for [32·1024, 32]) where a Sum over the outer axes transposes first (~7 ms).
  // (The ones are made per call: a tensor captured from outside would be disposed before backward.)
  /** Sum over batch and positions: [B,N,C] → [C]. */
  const channelSum = (t: tf.Tensor) =>
    tf.reshape(tf.matMul(tf.ones([1, bsz * n]), tf.reshape(t, [bsz * n, c])), [c]);
  const op = tf.customGrad(
    ((xIn: tf.Tensor, gIn: tf.Tensor, bIn: tf.Tensor, save: tf.GradSaveFunc) => {
      const xg = tf.reshape(xIn, [bsz, n, groups, cg]);
      const gamma = tf.reshape(gIn, [1, 1, groups, cg]), beta = tf.reshape(bIn, [1, 1, groups, cg]);
      const xc = tf.sub(xg, groupMean(xg));
      const rstd = tf.rsqrt(tf.add(groupMean(tf.square(xc)), 1e-5));
      const xhat = tf.mul(xc, rstd);
      const z = tf.add(tf.mul(xhat, gamma), beta);
      const sig = activate ? tf.sigmoid(z) : null;
      const y = sig ? tf.mul(z, sig) : z;
      save(sig ? [xhat, rstd, gamma, z, sig] : [xhat, rstd, gamma]);
      return {
        value: tf.reshape(y, [bsz, h, w, c]),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [sx, sr, sg, sz, ss] = saved;
          // on wasm one kernel does all of the below (the broadcasting ops are its slowest part)
          const fused = groupNormGrad(dy, sx, sr, sg, sz, ss);
          if (fused) return [tf.reshape(fused[0], [bsz, h, w, c]), fused[1], fused[2]];
          let dz = tf.reshape(dy, [bsz, n, groups, cg]);
          if (ss) dz = tf.mul(dz, tf.mul(ss, tf.add(1, tf.mul(sz, tf.sub(1, ss)))));
          const dGamma = channelSum(tf.mul(dz, sx));
          const dBeta = channelSum(dz);
          const dxhat = tf.mul(dz, sg);
          const dx = tf.mul(
            sr,
            tf.sub(tf.sub(dxhat, groupMean(dxhat)), tf.mul(sx, groupMean(tf.mul(dxhat, sx)))),
          );
          return [tf.reshape(dx, [bsz, h, w, c]), dGamma, dBeta];
        },
      };
    }) as unknown as CustomGradFunc,
  );
  return op(x, ctx.p(`${name}.g`), ctx.p(`${name}.b`)) as tf.Tensor4D;
}

/** The same GroupNorm (+ SiLU) through plain autodiff: the reference for the fused op's gradient. */
export function groupNormReference(
  ctx: ForwardContext,
  name: string,
  x: tf.Tensor4D,
  groups: number,
  activate = false,
): tf.Tensor4D {
  const [bsz, h, w, c] = x.shape;
  const g = tf.reshape(x, [bsz, h * w, groups, c / groups]);
  const { mean, variance } = tf.moments(g, [1, 3], true);
  const normed = tf.reshape(tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, 1e-5))), [bsz, h, w, c]);
  const z = tf.add(tf.mul(normed, ctx.p(`${name}.g`)), ctx.p(`${name}.b`)) as tf.Tensor4D;
  return activate ? silu(z) as tf.Tensor4D : z;
}

/** Declares BatchNorm parameters and running statistics. */
export function declareBatchNorm(b: ParamBuilder, name: string, c: number): void {
  declareNorm(b, name, c);
  b.stateConstant(`${name}.running_mean`, [c], 0);
  b.stateConstant(`${name}.running_var`, [c], 1);
}

/**
 * BatchNorm as PyTorch's: batch statistics while training (running stats updated with momentum
 * 0.1 and the unbiased variance), running statistics otherwise.
 */
export function batchNorm(ctx: ForwardContext, name: string, x: tf.Tensor4D): tf.Tensor4D {
  let mean: tf.Tensor, variance: tf.Tensor;
  if (ctx.training) {
    const [bsz, h, w, c] = x.shape;
    const n = bsz * h * w;
    // The running statistics from two channel sums (one kernel each, where tf.moments' means over the
    // outer axes transpose first on wasm); the normalisation below has its own exact statistics.
    const sum = (t: tf.Tensor) =>
      wasmChannelSum(t) ?? tf.reshape(tf.matMul(tf.ones([1, n]), tf.reshape(t, [n, c])), [c]);
    mean = tf.div(sum(x), n);
    variance = tf.relu(tf.sub(tf.div(sum(tf.square(x)), n), tf.square(mean)));
    const rm = ctx.s(`${name}.running_mean`), rv = ctx.s(`${name}.running_var`);
    ctx.updates.push({
      variable: rm,
      value: tf.keep(tf.add(tf.mul(rm, 0.9), tf.mul(mean, 0.1))),
    });
    ctx.updates.push({
      variable: rv,
      value: tf.keep(tf.add(tf.mul(rv, 0.9), tf.mul(variance, 0.1 * n / Math.max(n - 1, 1)))),
    });
    // Normalised with the batch's statistics, BatchNorm is GroupNorm over one image made of the whole
    // batch with a group per channel: its op has a hand-written gradient (one wasm kernel) where
    // autodiff through tf.moments runs about 30 small kernels per norm.
    return tf.reshape(groupNorm(ctx, name, tf.reshape(x, [1, bsz * h, w, c]), c), x.shape);
  } else {
    mean = ctx.s(`${name}.running_mean`);
    variance = ctx.s(`${name}.running_var`);
  }
  const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5)));
  return tf.add(tf.mul(normed, ctx.p(`${name}.g`)), ctx.p(`${name}.b`)) as tf.Tensor4D;
}

/**
 * Nearest-neighbour ×2 up-sampling as two rank-4 concatenations (cheap on every backend; their
 * gradient is a split), so that no backend's ResizeNearestNeighborGrad is needed. With `training`
 * false (and {@linkcode inferenceFusion}), one resize.
 */
export function upsampleNearest2x(x: tf.Tensor4D, training = true): tf.Tensor4D {
  const [bsz, h, w, c] = x.shape;
  // inference needs no gradient: one resize kernel instead of two concatenations
  if (!training && inferenceFusion()) return tf.image.resizeNearestNeighbor(x, [2 * h, 2 * w]);
  const col = tf.reshape(x, [bsz * h, w, 1, c]);
  const wide = tf.reshape(tf.concat([col, col], 2), [bsz, h, 1, 2 * w * c]); // each pixel twice along W
  return tf.reshape(tf.concat([wide, wide], 2), [bsz, 2 * h, 2 * w, c]); // each row twice
}

/**
 * The sinusoidal timestep embedding of the Transformer / DDPM papers, computed in plain JS so it
 * is identical on every backend: [sin(t·f_0..f_{d/2}), cos(t·f_0..)], f_i = 10000^(−i/(d/2 − 1)).
 */
export function timestepEmbedding(t: ArrayLike<number>, dim: number): Float32Array {
  if (dim % 2 !== 0 || dim < 2) {
    throw new RangeError(`timestep embedding dim must be even and >= 2, got ${dim}`);
  }
  const half = dim / 2;
  const out = new Float32Array(t.length * dim);
  for (let i = 0; i < t.length; i++) {
    for (let j = 0; j < half; j++) {
      const freq = Math.exp(-Math.log(10000) * j / Math.max(half - 1, 1));
      out[i * dim + j] = Math.sin(t[i] * freq);
      out[i * dim + half + j] = Math.cos(t[i] * freq);
    }
  }
  return out;
}

/** Declares single-head self-attention over a feature map (GroupNorm, qkv, zero-initialised projection). */
export function declareAttention(b: ParamBuilder, name: string, c: number): void {
  declareNorm(b, `${name}.norm`, c);
  declareDense(b, `${name}.qkv`, c, 3 * c);
  declareDense(b, `${name}.proj`, c, c, true);
}

/**
 * Self-attention over all H·W positions with a residual connection. In inference on wasm (with
 * {@linkcode inferenceFusion}) the scores, softmax and weighted sum are one kernel.
 */
export function attention(ctx: ForwardContext, name: string, x: tf.Tensor4D, groups: number): tf.Tensor4D {
  const [bsz, h, w, c] = x.shape;
  const n = h * w;
  const hn = groupNorm(ctx, `${name}.norm`, x, groups);
  const qkv = tf.reshape(dense(ctx, `${name}.qkv`, tf.reshape(hn, [bsz * n, c])), [bsz, n, 3 * c]);
  ctx.flops += 2 * 2 * bsz * n * n * c;
  let out: tf.Tensor3D;
  if (!ctx.training && inferenceFusion() && tf.getBackend() === "wasm") {
    out = attentionWasmFused(qkv as tf.Tensor3D, 1 / Math.sqrt(c));
  } else {
    const [q, k, v] = tf.split(qkv, 3, 2) as tf.Tensor3D[];
    const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(c));
    out = tf.matMul(tf.softmax(scores) as tf.Tensor3D, v);
  }
  const proj = dense(ctx, `${name}.proj`, tf.reshape(out, [bsz * n, c]));
  return tf.add(x, tf.reshape(proj, [bsz, h, w, c])) as tf.Tensor4D;
}
