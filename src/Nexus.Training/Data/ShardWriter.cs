using System.Buffers.Binary;
using System.Security.Cryptography;
using Nexus.Model;

namespace Nexus.Training.Data;

/// <summary>
/// Writes one split of one domain as shard files <c>DOMAIN/SPLIT-00000.bin</c>: token ids, little-endian, each
/// document followed by EOS. A shard holds whole documents and at most <c>shardTokens</c> tokens (a longer
/// document gets a shard to itself). Each file is written atomically and its SHA-256 taken from the bytes written.
/// </summary>
public sealed class ShardWriter(string datasetDirectory, string domain, DataSplit split, TokenDtype dtype, long shardTokens)
{
    private readonly List<ShardInfo> shards = [];
    private readonly List<int> pending = [];
    private int pendingDocuments;

    public IReadOnlyList<ShardInfo> Shards => shards;

    public void Add(IReadOnlyList<int> document, int? eos)
    {
        var length = document.Count + (eos is null ? 0 : 1);
        if (pending.Count > 0 && pending.Count + length > shardTokens) Flush();
        pending.AddRange(document);
        if (eos is { } id) pending.Add(id);
        pendingDocuments++;
    }

    /// <summary>Writes what is left; call once after the last document.</summary>
    public void Complete()
    {
        if (pending.Count > 0) Flush();
    }

    private void Flush()
    {
        var bytes = new byte[pending.Count * dtype.Size()];
        for (var i = 0; i < pending.Count; i++)
        {
            if (dtype == TokenDtype.UInt16) BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), checked((ushort)pending[i]));
            else BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4 * i), pending[i]);
        }
        var relative = $"{domain}/{(split == DataSplit.Train ? "train" : "validation")}-{shards.Count:D5}.bin";
        AtomicFile.Write(Path.Combine(datasetDirectory, relative), stream => stream.Write(bytes));
        shards.Add(new ShardInfo
        {
            Path = relative,
            Split = split,
            Tokens = pending.Count,
            Documents = pendingDocuments,
            Dtype = dtype,
            Bytes = bytes.Length,
            Sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes)),
        });
        pending.Clear();
        pendingDocuments = 0;
    }
}

/// <summary>Reads a shard back, checking its size and SHA-256 against the manifest first.</summary>
public static class ShardReader
{
    public static int[] Read(string datasetDirectory, ShardInfo shard)
    {
        var path = Path.Combine(datasetDirectory, shard.Path);
        var rerun = $"re-run `nexus data prepare --out {datasetDirectory}`";
        if (!File.Exists(path))
            throw new InvalidDataException($"Shard {shard.Path} of dataset {datasetDirectory} is missing; {rerun}.");
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length != shard.Bytes || shard.Bytes != shard.Tokens * shard.Dtype.Size())
            throw new InvalidDataException(
                $"Shard {shard.Path} of dataset {datasetDirectory} is {bytes.Length} bytes; the manifest expects {shard.Bytes} " +
                $"({shard.Tokens} {shard.Dtype} tokens) with sha256 {shard.Sha256}; {rerun}.");
        var actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (actual != shard.Sha256)
            throw new InvalidDataException(
                $"Shard {shard.Path} of dataset {datasetDirectory} fails its checksum: expected sha256 {shard.Sha256}, found {actual}; {rerun}.");
        var tokens = new int[shard.Tokens];
        for (var i = 0; i < tokens.Length; i++)
            tokens[i] = shard.Dtype == TokenDtype.UInt16
                ? BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(2 * i))
                : BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4 * i));
        return tokens;
    }
}
