using Nexus.Model;
using Nexus.Model.Safetensors;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Nexus.Training;

/// <summary>
/// AdamW (Loshchilov &amp; Hutter) with decoupled weight decay, updating parameters in place:
/// p ← p·(1 − lr·wd); m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; p ← p − lr·m̂ / (√v̂ + ε).
/// Ours rather than TorchSharp's because that one's step leaks native memory (grad and temporary
/// tensors left to finalizers; ~16 MB per step on a 25M model, see docs/benchmarks.md), and because
/// its state then checkpoints as plain safetensors next to the weights.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly Slot[] slots;
    private readonly double beta1, beta2, epsilon, weightDecay;

    private sealed record Slot(string Name, Parameter Parameter, bool Decay, Tensor ExpAvg, Tensor ExpAvgSq);

    /// <param name="parameters">Named parameters; <c>Decay</c> false exempts one from weight decay (norms).</param>
    public AdamW(IEnumerable<(string Name, Parameter Parameter, bool Decay)> parameters,
        double beta1 = 0.9, double beta2 = 0.999, double epsilon = 1e-8, double weightDecay = 0.01)
    {
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.epsilon = epsilon;
        this.weightDecay = weightDecay;
        using var noGrad = no_grad();
        slots = parameters
            .Select(p => new Slot(p.Name, p.Parameter, p.Decay,
                zeros_like(p.Parameter).DetachFromDisposeScope(), zeros_like(p.Parameter).DetachFromDisposeScope()))
            .ToArray();
    }

    /// <summary>Optimizer steps taken (t in the bias corrections).</summary>
    public long StepCount { get; private set; }

    public void Step(double learningRate)
    {
        StepCount++;
        var biasCorrection1 = 1 - Math.Pow(beta1, StepCount);
        var biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(beta2, StepCount));
        using var noGrad = no_grad();
        foreach (var slot in slots)
        {
            using var grad = slot.Parameter.grad;
            if (grad is null) continue;
            if (slot.Decay && weightDecay != 0) slot.Parameter.mul_(1 - learningRate * weightDecay);
            slot.ExpAvg.mul_(beta1).add_(grad, alpha: 1 - beta1);
            slot.ExpAvgSq.mul_(beta2).addcmul_(grad, grad, value: 1 - beta2);
            using var denominator = slot.ExpAvgSq.sqrt();
            denominator.div_(biasCorrection2Sqrt).add_(epsilon);
            slot.Parameter.addcdiv_(slot.ExpAvg, denominator, value: -learningRate / biasCorrection1);
        }
    }

    /// <summary>Zeroes gradients in place, so their memory is reused rather than reallocated every step.</summary>
    public void ZeroGrad()
    {
        foreach (var slot in slots)
        {
            using var grad = slot.Parameter.grad;
            grad?.zero_();
        }
    }

    /// <summary>
    /// Scales gradients so their global L2 norm is at most <paramref name="maxNorm"/>; returns the norm
    /// before clipping.
    /// </summary>
    public double ClipGradientNorm(double maxNorm)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var grads = slots.Select(s => s.Parameter.grad).OfType<Tensor>().ToList();
        if (grads.Count == 0) return 0;
        var total = stack(grads.Select(g => g.norm()).ToList()).norm().item<float>();
        var scale = maxNorm / (total + 1e-6);
        if (scale < 1)
            foreach (var grad in grads) grad.mul_(scale);
        return total;
    }

    /// <summary>Moments as safetensors (<c>{name}.exp_avg</c>, <c>{name}.exp_avg_sq</c>), the step in the metadata.</summary>
    public void Save(string path)
    {
        var layout = slots.SelectMany(s => new[]
        {
            new TensorSpec(s.Name + ".exp_avg", SafetensorsDtype.F32, s.ExpAvg.shape),
            new TensorSpec(s.Name + ".exp_avg_sq", SafetensorsDtype.F32, s.ExpAvgSq.shape),
        }).ToList();
        using var writer = SafetensorsWriter.Create(path, layout, new Dictionary<string, string>
        {
            ["optimizer"] = "adamw",
            ["step"] = StepCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        foreach (var slot in slots)
        {
            writer.WriteTensor(slot.Name + ".exp_avg", slot.ExpAvg.contiguous().bytes);
            writer.WriteTensor(slot.Name + ".exp_avg_sq", slot.ExpAvgSq.contiguous().bytes);
        }
        writer.Commit();
    }

    public void Load(string path)
    {
        using var file = SafetensorsFile.Open(path);
        if (!file.Metadata.TryGetValue("step", out var step) || !long.TryParse(step, out var steps))
            throw new InvalidDataException($"{path}: not an AdamW state file (no step in its metadata).");
        foreach (var slot in slots)
        {
            Restore(file, slot.Name + ".exp_avg", slot.ExpAvg, path);
            Restore(file, slot.Name + ".exp_avg_sq", slot.ExpAvgSq, path);
        }
        StepCount = steps;
    }

    private static void Restore(SafetensorsFile file, string name, Tensor target, string path)
    {
        if (!file.TryGet(name, out var entry))
            throw new InvalidDataException($"{path}: optimizer state lacks {name}; it belongs to a different model.");
        if (entry.Dtype != SafetensorsDtype.F32 || !entry.Shape.SequenceEqual(target.shape))
            throw new InvalidDataException($"{path}: {name} is {entry.Dtype} [{string.Join(", ", entry.Shape)}], expected F32 [{string.Join(", ", target.shape)}].");
        file.GetBytes(name).CopyTo(target.bytes);
    }

    public void Dispose()
    {
        foreach (var slot in slots)
        {
            slot.ExpAvg.Dispose();
            slot.ExpAvgSq.Dispose();
        }
    }
}
