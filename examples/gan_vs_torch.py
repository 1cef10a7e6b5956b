"""shinsou's DCGAN against the same DCGAN written in plain PyTorch, on the same budget.

Both train on the embedded digits upsampled to 16×16 in [-1, 1] (``vision.digit_images``):
the same architecture (Dense → 4×4×64, BN+ReLU, ConvTranspose 4×4/2 to 8×8×32, BN+ReLU,
ConvTranspose to 16×16×1 with tanh; discriminator Conv 4×4/2 32 and 64 filters with
LeakyReLU(0.2) and Dropout(0.3), then Dense(1)), N(0, 0.02) kernels, the same loss
(binary cross-entropy on logits, generated = 1, real = 0, 0.05 label noise on the
discriminator's targets), Adam(lr, beta_1=0.5) for both networks, the same batch size and
number of epochs. Both are scored by the same shinsou-trained digit classifier
(``vision.digit_quality`` on 1,000 samples against the real training digits); real
held-out digits give the reference row.

Run: ``python examples/gan_vs_torch.py --epochs 15 --output gan-vs-torch``

Measured (15 epochs, batch 32, learning rate 1e-3, seed 0; 1,000 samples each):

    ======================  =========  ========  =======
    (1,000 samples)         confident  coverage  Fréchet
    ======================  =========  ========  =======
    real held-out digits        0.949     0.999     0.83
    shinsou DCGAN               0.568     0.915    18.23
    PyTorch DCGAN               0.518     0.962    17.25
    ======================  =========  ========  =======
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from torch import nn

from shinsou.vision.drawing import image_grid
from shinsou.vision.generation import digit_images, train_digit_gan
from shinsou.vision.generation_quality import digit_quality, train_digit_classifier

LATENT_DIM = 32
FILTERS = 32
SAMPLES = 1000


def torch_dcgan(image_size):
    """Generator and discriminator matching ``applications.DCGAN(32, (16, 16, 1),
    generator_filters=32, discriminator_filters=32)``, NCHW."""
    start = image_size // 4
    top = FILTERS * 2
    generator = nn.Sequential(
        nn.Linear(LATENT_DIM, start * start * top, bias=False),
        nn.Unflatten(1, (top, start, start)),
        # Keras BatchNormalization(momentum=0.9, epsilon=1e-3) is torch's momentum 0.1.
        nn.BatchNorm2d(top, eps=1e-3, momentum=0.1),
        nn.ReLU(),
        nn.ConvTranspose2d(top, FILTERS, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(FILTERS, eps=1e-3, momentum=0.1),
        nn.ReLU(),
        nn.ConvTranspose2d(FILTERS, 1, 4, stride=2, padding=1),
        nn.Tanh(),
    )
    discriminator = nn.Sequential(
        nn.Conv2d(1, FILTERS, 4, stride=2, padding=1),
        nn.LeakyReLU(0.2),
        nn.Dropout(0.3),
        nn.Conv2d(FILTERS, FILTERS * 2, 4, stride=2, padding=1),
        nn.LeakyReLU(0.2),
        nn.Dropout(0.3),
        nn.Flatten(),
        nn.Linear(FILTERS * 2 * start * start, 1),
    )
    for module in [*generator, *discriminator]:
        if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(module.weight, 0.0, 0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return generator, discriminator


def train_torch_dcgan(images, epochs, batch_size, learning_rate, seed, label_noise=0.05):
    """Keras's GAN recipe (``DCGAN.train_step``) in plain PyTorch; returns the generator."""
    torch.manual_seed(seed)
    data = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    generator, discriminator = torch_dcgan(images.shape[1])
    d_optimizer = torch.optim.Adam(discriminator.parameters(), learning_rate, betas=(0.5, 0.999))
    g_optimizer = torch.optim.Adam(generator.parameters(), learning_rate, betas=(0.5, 0.999))
    loss_fn = nn.BCEWithLogitsLoss()
    generator.train()
    discriminator.train()
    for _ in range(epochs):
        order = torch.randperm(len(data))
        for start in range(0, len(data), batch_size):
            real = data[order[start : start + batch_size]]
            batch = len(real)
            with torch.no_grad():
                generated = generator(torch.randn(batch, LATENT_DIM))
            targets = torch.cat([torch.ones(batch, 1), torch.zeros(batch, 1)])
            targets += label_noise * torch.rand_like(targets)
            d_loss = loss_fn(discriminator(torch.cat([generated, real])), targets)
            d_optimizer.zero_grad()
            d_loss.backward()
            d_optimizer.step()

            for parameter in discriminator.parameters():
                parameter.requires_grad_(False)
            logits = discriminator(generator(torch.randn(batch, LATENT_DIM)))
            g_loss = loss_fn(logits, torch.zeros(batch, 1))
            g_optimizer.zero_grad()
            g_loss.backward()
            g_optimizer.step()
            for parameter in discriminator.parameters():
                parameter.requires_grad_(True)
    return generator


def torch_samples(generator, count, seed):
    generator.eval()
    with torch.no_grad():
        latents = torch.from_numpy(
            np.random.default_rng(seed).standard_normal((count, LATENT_DIM), dtype=np.float32)
        )
        return generator(latents).permute(0, 2, 3, 1).numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="gan-vs-torch")
    args = parser.parse_args()
    os.makedirs(args.output, exist_ok=True)
    torch.set_num_threads(os.cpu_count() or 1)  # as many threads as NumPy's BLAS may use

    (x_train, y_train), (x_test, _) = digit_images()
    started = time.perf_counter()
    classifier = train_digit_classifier(x_train, y_train, seed=args.seed)
    print(f"digit classifier trained in {time.perf_counter() - started:.1f}s")

    rows = [("real held-out digits", digit_quality(x_test, classifier, x_train), 0.0, 0.0)]
    # Wall-clock and CPU seconds: on a shared machine the CPU time is the fairer measure.
    started, cpu_started = time.perf_counter(), time.process_time()
    gan, _ = train_digit_gan(
        x_train,
        epochs=args.epochs,
        batch_size=args.batch_size,
        latent_dim=LATENT_DIM,
        filters=FILTERS,
        learning_rate=args.learning_rate,
        seed=args.seed,
    )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    samples = gan.generate(SAMPLES, seed=args.seed + 1)
    rows.append(("shinsou DCGAN", digit_quality(samples, classifier, x_train), seconds, cpu))
    image_grid(samples[:100], rows=10, path=os.path.join(args.output, "shinsou_dcgan.png"))

    started, cpu_started = time.perf_counter(), time.process_time()
    generator = train_torch_dcgan(
        x_train, args.epochs, args.batch_size, args.learning_rate, args.seed
    )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    samples = torch_samples(generator, SAMPLES, args.seed + 1)
    rows.append(("PyTorch DCGAN", digit_quality(samples, classifier, x_train), seconds, cpu))
    image_grid(samples[:100], rows=10, path=os.path.join(args.output, "torch_dcgan.png"))

    print(f"{args.epochs} epochs, batch {args.batch_size}, learning rate {args.learning_rate}")
    print(f"{'':22s} confident  coverage  Fréchet  train s  CPU s")
    for name, score, seconds, cpu in rows:
        print(
            f"{name:22s} {score['confident_share']:9.3f} {score['class_coverage']:9.3f} "
            f"{score['frechet_distance']:8.2f} {seconds:8.1f} {cpu:6.1f}"
        )


if __name__ == "__main__":
    main()
