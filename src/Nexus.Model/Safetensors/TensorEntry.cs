namespace Nexus.Model.Safetensors;

/// <summary>A tensor described by a safetensors header; Begin and End are byte offsets within the data region.</summary>
public sealed record TensorEntry(string Name, SafetensorsDtype Dtype, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;

    /// <summary>Product of the shape; 1 for a scalar (empty shape).</summary>
    public long ElementCount => SafetensorsShape.ElementCount(Shape);
}

/// <summary>A tensor to be written: its place in the data region is decided by the writer.</summary>
public sealed record TensorSpec(string Name, SafetensorsDtype Dtype, long[] Shape)
{
    public long ElementCount => SafetensorsShape.ElementCount(Shape);

    /// <summary>Bytes this tensor occupies; throws OverflowException when the shape is too large to address.</summary>
    public long ByteLength => SafetensorsShape.ByteLength(Shape, Dtype);
}

internal static class SafetensorsShape
{
    public static long ElementCount(IReadOnlyList<long> shape)
    {
        // A zero dimension makes the tensor empty even when other dimensions would overflow the product.
        foreach (var dim in shape)
        {
            if (dim == 0)
            {
                return 0;
            }
        }

        long count = 1;
        foreach (var dim in shape)
        {
            if (dim < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(shape), dim, "Tensor dimensions must be non-negative.");
            }

            count = checked(count * dim);
        }

        return count;
    }

    public static long ByteLength(IReadOnlyList<long> shape, SafetensorsDtype dtype) =>
        checked(ElementCount(shape) * dtype.ElementSize());
}
