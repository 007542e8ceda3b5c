using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Policies;

namespace Nexus.Operator.Specs;

/// <summary>
/// One attempt at building a NexusModel revision: the revision number and the build id, a hash of what the build is
/// made from (a Deployment's pod-template-hash, for a build). The number is reused until a build of it is recorded, so
/// the id is what tells two attempts apart: each writes its own artifact folder (<see cref="ArtifactPaths.BuildFolder"/>)
/// and its Jobs carry the id, so a failed attempt's Jobs and outputs are never taken for a later attempt's, while a
/// retry with the same inputs finds (and resumes) its own.
/// </summary>
public sealed partial record ModelBuild
{
    /// <summary>Hex characters of the SHA-256 kept as the id (40 bits: a model's builds never collide in practice).</summary>
    public const int IdLength = 10;

    public ModelBuild(int revision, string id, string inputs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(revision, 1);
        if (!IdPattern().IsMatch(id ?? ""))
        {
            throw new ArgumentException($"A build id is {IdLength} lower-case hex characters, not '{id}'.", nameof(id));
        }

        ArgumentException.ThrowIfNullOrWhiteSpace(inputs);
        (Revision, Id, Inputs) = (revision, id!, inputs);
    }

    /// <summary>The revision number the build records when it succeeds.</summary>
    public int Revision { get; }

    /// <summary>The first <see cref="IdLength"/> hex characters of the SHA-256 of the build's inputs.</summary>
    public string Id { get; }

    /// <summary>The inputs in short, for Events and people: <c>spec 3fa2b1c0, news 9ab1c2d3/0c1d2e3f, …</c> (the first 8
    /// hex characters of the build spec hash, then per expert in router order its checkpoint's and embedding's SHA-256;
    /// <c>-</c> where unknown).</summary>
    public string Inputs { get; }

    /// <summary>
    /// The build of <paramref name="revision"/> from <paramref name="spec"/> (its <see cref="RevisionPolicy.BuildSpecHash"/>:
    /// seed, router, finetune) and <paramref name="experts"/> in router order, each by name, domain, checkpoint SHA-256
    /// and embedding SHA-256. Anything else (serving, history, a label) leaves the id as it is.
    /// </summary>
    public static ModelBuild Of(int revision, NexusModelSpec spec, IEnumerable<Expert> experts)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var specHash = RevisionPolicy.BuildSpecHash(spec);
        var inputs = experts.Select(expert => new
        {
            name = expert.Metadata.Name,
            domain = expert.Spec.Domain,
            checkpoint = expert.Status?.Artifacts?.Checkpoint?.Sha256,
            embedding = expert.Status?.Artifacts?.Embedding?.Sha256,
        }).ToList();
        // System.Text.Json's defaults write the properties in declared order, nulls included: one text per inputs.
        var canonical = JsonSerializer.SerializeToUtf8Bytes(new { spec = specHash, experts = inputs });
        var id = Convert.ToHexStringLower(SHA256.HashData(canonical))[..IdLength];
        var summary = string.Join(", ", inputs.Select(expert => $"{expert.name} {Short(expert.checkpoint)}/{Short(expert.embedding)}").Prepend($"spec {Short(specHash)}"));
        return new ModelBuild(revision, id, summary);
    }

    public override string ToString() => $"revision {Revision.ToString(CultureInfo.InvariantCulture)} build {Id}";

    private static string Short(string? sha256) => sha256 is { Length: >= 8 } ? sha256[..8] : "-";

    [GeneratedRegex("^[0-9a-f]{10}$")]
    private static partial Regex IdPattern();
}
