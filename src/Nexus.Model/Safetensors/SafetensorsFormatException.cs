namespace Nexus.Model.Safetensors;

/// <summary>A safetensors file or checkpoint index is malformed; the message names the file and the problem.</summary>
public sealed class SafetensorsFormatException : Exception
{
    public SafetensorsFormatException(string message)
        : base(message)
    {
    }

    public SafetensorsFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
