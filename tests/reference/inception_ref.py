#!/usr/bin/python3
"""inception_ref.py: Inception-v3 in plain torch (torchvision is not installed here), both variants
ratlip evaluates with, with the state_dict names of the upstream models:

  fid  pytorch-fid's FID network (torchvision Inception3(num_classes=1008, aux_logits=False) with
       FIDInceptionA/C/E_1 pooling branches avg_pool2d(3,1,1,count_include_pad=False) and
       FIDInceptionE_2 (Mixed_7c) max_pool2d(3,1,1)); input [0,1] -> bilinear 299 -> 2x-1
  tv   torchvision inception_v3 (num_classes=1000, AuxLogits kept in the state dict, pooling
       branches avg_pool2d(3,1,1) counting the padding); input as GALIP/RATLIP feed it: [0,1] ->
       bilinear 299 -> x_c*(std_c/0.5) + (mean_c-0.5)/0.5 with ImageNet mean/std
BasicConv2d = conv (no bias) -> BatchNorm2d(eps=0.001) -> ReLU. Features: 2048-d pool3.

    inception_ref.py --out REF.h5 --weights-pth W.pth [--network fid|tv] [--batch B] [--size S]
                     [--inception-size R]
        random init (seeded), saves the state_dict to W.pth (for io/tools/convert_inception.py),
        writes /img [B,3,S,S] in [-1,1] (generator convention), /feat [B,2048] and /feat_f64 (the same
        network in float64) to REF.h5, with the images resized to R (default 299, pytorch-fid's) first
        (attribute inception_size);
        with --convert-to W.h5 it then converts W.pth with io/tools/convert_inception.py
    inception_ref.py --bench --batch B --threads T [--network fid]   images/s of the forward
"""
import argparse
import time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, **kw):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def pool_avg(x, fid):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=not fid)


class InceptionA(nn.Module):
    def __init__(self, cin, pool_features, fid):
        super().__init__()
        self.fid = fid
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(pool_avg(x, self.fid))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([b3, bd, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin, c7, fid):
        super().__init__()
        self.fid = fid
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for m in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = m(bd)
        return torch.cat([b1, b7, bd, self.branch_pool(pool_avg(x, self.fid))], 1)


class InceptionD(nn.Module):
    def __init__(self, cin):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    def __init__(self, cin, pool):   # pool: "avg" (torchvision), "avg_nopad" (FID E_1), "max" (FID E_2)
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x):
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        if self.pool == "max":
            p = F.max_pool2d(x, 3, stride=1, padding=1)
        else:
            p = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=(self.pool == "avg"))
        return torch.cat([b1, b3, bd, self.branch_pool(p)], 1)


class InceptionAux(nn.Module):   # torchvision's; only for the state_dict names (not used for features)
    def __init__(self, cin, num_classes):
        super().__init__()
        self.conv0 = BasicConv2d(cin, 128, kernel_size=1)
        self.conv1 = BasicConv2d(128, 768, kernel_size=5)
        self.fc = nn.Linear(768, num_classes)


class Inception3(nn.Module):
    def __init__(self, network):
        super().__init__()
        fid = network == "fid"
        self.network = network
        self.input_size = 299   # the resize target (pytorch-fid's); --inception-size changes it
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, 32, fid)
        self.Mixed_5c = InceptionA(256, 64, fid)
        self.Mixed_5d = InceptionA(288, 64, fid)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128, fid)
        self.Mixed_6c = InceptionC(768, 160, fid)
        self.Mixed_6d = InceptionC(768, 160, fid)
        self.Mixed_6e = InceptionC(768, 192, fid)
        if not fid:
            self.AuxLogits = InceptionAux(768, 1000)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, "avg_nopad" if fid else "avg")
        self.Mixed_7c = InceptionE(2048, "max" if fid else "avg")
        self.fc = nn.Linear(2048, 1008 if fid else 1000)

    def preprocess(self, img):   # img [B,3,S,S] in [-1,1] (generator output)
        x = img * 0.5 + 0.5
        r = self.input_size
        x = F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False)
        if self.network == "fid":
            return 2 * x - 1
        mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, dtype=x.dtype).view(1, 3, 1, 1)
        return x * (std / 0.5) + (mean - 0.5) / 0.5

    def forward(self, img):   # -> [B,2048] pool3
        x = self.preprocess(img)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for m in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                  self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = m(x)
        return x.mean(dim=(2, 3))


@torch.no_grad()
def init_random(model, seed):
    """Seeded weights that keep activations O(1) through 94 conv-BN-ReLU layers."""
    gen = torch.Generator().manual_seed(seed)
    u = lambda shape, lo, hi: torch.rand(shape, generator=gen) * (hi - lo) + lo
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            fan_in = m.weight[0].numel()
            m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.copy_(u(m.weight.shape, 0.8, 1.2))
            m.bias.copy_(u(m.bias.shape, -0.1, 0.1))
            m.running_mean.copy_(u(m.running_mean.shape, -0.1, 0.1))
            m.running_var.copy_(u(m.running_var.shape, 0.8, 1.2))
        elif isinstance(m, nn.Linear):
            m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * 0.01)
            m.bias.zero_()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--weights-pth")
    ap.add_argument("--convert-to", help="then run io/tools/convert_inception.py on the .pth, writing this file")
    ap.add_argument("--network", default="fid", choices=["fid", "tv"])
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--inception-size", type=int, default=299, help="side the images are resized to (75..)")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = Inception3(args.network).eval()
    model.input_size = args.inception_size
    init_random(model, args.seed)
    gen = torch.Generator().manual_seed(args.seed + 1)
    img = torch.rand(args.batch, 3, args.size, args.size, generator=gen) * 2 - 1
    if args.bench:
        with torch.no_grad():
            model(img)   # warm-up
            best = 1e30
            for _ in range(args.reps):
                t = time.perf_counter()
                model(img)
                best = min(best, time.perf_counter() - t)
        print("torch images/s %.3f (batch %d, %d threads, best of %d)" % (args.batch / best, args.batch,
                                                                         torch.get_num_threads(), args.reps))
        return
    if not args.out or not args.weights_pth:
        raise SystemExit("inception_ref.py: --out and --weights-pth are required (or --bench)")
    torch.save(model.state_dict(), args.weights_pth)
    with torch.no_grad():
        feat = model(img)
        # the same network in float64 from the same float32 weights and images: the truth the C float forward
        # is measured against, and (feat - feat_f64) the float32 error that sets its tolerance
        import copy
        feat64 = copy.deepcopy(model).double()(img.double())
    import h5py
    with h5py.File(args.out, "w") as f:
        f["img"] = img.numpy()
        f["feat"] = feat.numpy()
        f["feat_f64"] = feat64.numpy()
        f.attrs["network"] = args.network
        f.attrs["inception_size"] = args.inception_size
    if args.convert_to:
        import os
        import subprocess
        import sys
        tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "io", "tools", "convert_inception.py")
        subprocess.run([sys.executable, tool, args.weights_pth, args.convert_to], check=True)
    print("inception_ref: %s, %d images %dx%d resized to %d, features mean %.4f std %.4f" % (
        args.network, args.batch, args.size, args.size, args.inception_size, feat.mean().item(), feat.std().item()))


if __name__ == "__main__":
    main()
