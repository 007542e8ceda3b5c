using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Nexus.Training.Data;

/// <summary>
/// Where a document goes, decided from its content key alone: the same document always lands on the same
/// side of the train/validation split, whatever else is in the data, and its place in the sampling order
/// (which documents a size cap keeps) is as stable. Each is a uniform number in [0, 1) from a salted SHA-256.
/// </summary>
public static class DocumentSplit
{
    /// <summary>The document's split draw: below the validation fraction means validation.</summary>
    public static double SplitDraw(string contentKey) => Draw("nexus.split/v1", contentKey);

    /// <summary>The document's place in the order documents are taken in up to a size cap.</summary>
    public static double OrderDraw(string contentKey) => Draw("nexus.order/v1", contentKey);

    public static bool IsValidation(string contentKey, double validationFraction) => SplitDraw(contentKey) < validationFraction;

    private static double Draw(string salt, string key)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{salt}\n{key}"));
        return (BinaryPrimitives.ReadUInt64LittleEndian(hash) >> 11) * (1.0 / (1UL << 53));
    }
}
