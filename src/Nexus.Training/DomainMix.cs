using System.Globalization;
using static TorchSharp.torch;

namespace Nexus.Training;

/// <summary>One domain's text: its name (the expert it belongs to) and its train/validation tokens.</summary>
public sealed record Domain(string Name, TokenCorpus Corpus);

/// <summary>How a finetune weighs its domains.</summary>
public enum MixPolicy
{
    /// <summary>Each domain in proportion to its training tokens.</summary>
    Proportional,
    /// <summary>Every domain equally.</summary>
    Uniform,
}

/// <summary>
/// A weighted mix of domains. Each training sequence first draws its domain by weight, then a window of
/// that domain, both from the (seed, step, micro-batch) stream, so batches stay a pure function of the step.
/// </summary>
public sealed class DomainMix
{
    private DomainMix(IReadOnlyList<Domain> domains, double[] weights)
    {
        Domains = domains;
        Weights = weights;
    }

    public IReadOnlyList<Domain> Domains { get; }
    /// <summary>Sampling probability of each domain, summing to 1.</summary>
    public IReadOnlyList<double> Weights { get; }

    public static DomainMix Create(IReadOnlyList<Domain> domains, MixPolicy policy) =>
        Create(domains, policy switch
        {
            MixPolicy.Proportional => domains.ToDictionary(d => d.Name, d => (double)d.Corpus.Train.Length),
            _ => domains.ToDictionary(d => d.Name, _ => 1.0),
        });

    /// <summary>
    /// The extension finetune: half the samples from the new domain, half spread uniformly over the others
    /// (DESIGN.md: a 50/50 mix of old domains and the new one).
    /// </summary>
    public static DomainMix ForExtension(IReadOnlyList<Domain> domains, string newDomain)
    {
        if (domains.All(d => d.Name != newDomain))
            throw new ArgumentException($"The extension finetune needs data for the new expert '{newDomain}'; pass --domain {newDomain}=PATH.");
        var old = domains.Count - 1;
        return Create(domains, domains.ToDictionary(d => d.Name, d => d.Name == newDomain ? (old == 0 ? 1.0 : 0.5) : 0.5 / old));
    }

    /// <summary>Explicit relative weights by domain name; every domain needs one, and they must not all be zero.</summary>
    public static DomainMix Create(IReadOnlyList<Domain> domains, IReadOnlyDictionary<string, double> weights)
    {
        if (domains.Count == 0) throw new ArgumentException("A data mix needs at least one domain (--domain NAME=PATH).");
        var duplicate = domains.GroupBy(d => d.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"Domain '{duplicate.Key}' is given twice.");
        var unknown = weights.Keys.FirstOrDefault(k => domains.All(d => d.Name != k));
        if (unknown is not null)
            throw new ArgumentException($"--mix names '{unknown}', which is not a domain; the domains are {string.Join(", ", domains.Select(d => d.Name))}.");
        var raw = domains.Select(d => weights.TryGetValue(d.Name, out var w)
            ? w
            : throw new ArgumentException($"--mix gives no weight for domain '{d.Name}'.")).ToArray();
        var bad = Array.FindIndex(raw, w => !(w >= 0) || double.IsInfinity(w));
        if (bad >= 0) throw new ArgumentException($"--mix weight of '{domains[bad].Name}' is {raw[bad]}; weights must be finite and ≥ 0.");
        var total = raw.Sum();
        if (total <= 0) throw new ArgumentException("--mix weights are all zero.");
        return new DomainMix(domains, raw.Select(w => w / total).ToArray());
    }

    /// <summary>Parses --mix: "proportional", "uniform", "extension:NAME" (half NAME, half the rest) or "name=weight,name=weight".</summary>
    public static DomainMix Parse(IReadOnlyList<Domain> domains, string mix)
    {
        switch (mix.Trim().ToLowerInvariant())
        {
            case "proportional": return Create(domains, MixPolicy.Proportional);
            case "uniform": return Create(domains, MixPolicy.Uniform);
        }
        if (mix.StartsWith("extension:", StringComparison.OrdinalIgnoreCase)) return ForExtension(domains, mix["extension:".Length..].Trim());
        var weights = new Dictionary<string, double>();
        foreach (var part in mix.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = part.IndexOf('=');
            if (equals <= 0 || !double.TryParse(part[(equals + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var weight))
                throw new ArgumentException($"--mix '{mix}': '{part}' is not NAME=WEIGHT; use proportional, uniform, extension:NAME, or e.g. law=1,code=3.");
            weights[part[..equals]] = weight;
        }
        return Create(domains, weights);
    }

    /// <summary>A stable description (name=weight, in domain order) that a resumed run must match.</summary>
    public override string ToString() =>
        string.Join(",", Domains.Zip(Weights, (d, w) => $"{d.Name}={w.ToString("0.######", CultureInfo.InvariantCulture)}"));

    /// <summary>Validation stream of the mix: an equal slice of each domain's validation tokens, in domain order.</summary>
    public int[] Validation(long maxTokens)
    {
        var share = Math.Max(1, maxTokens / Domains.Count);
        return Domains.SelectMany(d => d.Corpus.Validation.Take((int)Math.Min(share, d.Corpus.Validation.Length))).ToArray();
    }

    /// <summary>
    /// Batches whose sequences follow the mix by systematic sampling: one uniform offset u per batch, and sequence b
    /// comes from the domain whose cumulative weight interval holds (b + u) / batchSize. Each domain gets ⌊B·wᵢ⌋ or
    /// ⌈B·wᵢ⌉ sequences (B·wᵢ on average), never the multinomial's spread: with 8 sequences and four domains an
    /// independent draw leaves a domain out of a third of the batches, and the load-balancing loss, computed per
    /// batch, then pushes the over-drawn domains' tokens away from their own experts.
    /// </summary>
    public ITrainingBatches Sampler(int batchSize, int sequenceLength, long seed) => new MixtureSampler(this, batchSize, sequenceLength, seed);

    private sealed class MixtureSampler : ITrainingBatches
    {
        private readonly DomainMix mix;
        private readonly int batchSize, sequenceLength;
        private readonly long seed;
        private readonly double[] cumulative;

        public MixtureSampler(DomainMix mix, int batchSize, int sequenceLength, long seed)
        {
            foreach (var (domain, weight) in mix.Domains.Zip(mix.Weights))
                if (weight > 0 && domain.Corpus.Train.Length < sequenceLength + 2)
                    throw new ArgumentException(
                        $"Domain '{domain.Name}' holds {domain.Corpus.Train.Length} training tokens, fewer than one window of {sequenceLength + 1}; add data or lower --seq-len.");
            this.mix = mix;
            this.batchSize = batchSize;
            this.sequenceLength = sequenceLength;
            this.seed = seed;
            var sum = 0.0;
            cumulative = mix.Weights.Select(w => sum += w).ToArray();
        }

        public (Tensor Inputs, Tensor Targets) Batch(long step, int microBatch)
        {
            var random = DeterministicRandom.For(seed, step, microBatch);
            var offset = Uniform(ref random);
            var inputs = new long[batchSize * sequenceLength];
            var targets = new long[batchSize * sequenceLength];
            for (var b = 0; b < batchSize; b++)
            {
                var draw = (b + offset) / batchSize;
                var domain = Array.FindIndex(cumulative, c => draw < c);
                if (domain < 0) domain = Array.FindLastIndex(mix.Weights.ToArray(), w => w > 0);
                var tokens = mix.Domains[domain].Corpus.Train;
                TokenWindow.Copy(tokens, (int)random.NextInt64(tokens.Length - sequenceLength), sequenceLength, inputs, targets, b);
            }
            return (tensor(inputs, [batchSize, sequenceLength]), tensor(targets, [batchSize, sequenceLength]));
        }

        private static double Uniform(ref DeterministicRandom random) => (random.NextUInt64() >> 11) * (1.0 / (1UL << 53));
    }
}
