using Nexus.Operator.Specs;

namespace Nexus.Operator.Tests.Specs;

public class KubernetesNamesTests
{
    [Fact]
    public void ShortHash_IsTheStartOfTheSha256()
    {
        // echo -n news | sha256sum
        Assert.Equal("19fba0e9", KubernetesNames.ShortHash("news"));
    }

    [Theory]
    [InlineData("demo")]
    [InlineData("a.b.c")]
    [InlineData("x")]
    public void ShortNames_AreTheirOwnLabelValue(string name) => Assert.Equal(name, KubernetesNames.LabelValue(name));

    [Fact]
    public void LongNames_GiveALabelValueOf63WithAHash()
    {
        var name = new string('n', 60) + ".abcdefghij";

        var value = KubernetesNames.LabelValue(name);

        Assert.Equal(63, value.Length);
        Assert.EndsWith("-" + KubernetesNames.ShortHash(name), value, StringComparison.Ordinal);
        Assert.Matches("^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$", value);
    }

    [Theory]
    [InlineData("demo", "demo")]
    [InlineData("7b", "m-7b-")]
    [InlineData("chat.v2", "chat-v2-")]
    public void ServiceNames_AreRfc1035Labels(string name, string expectedStart)
    {
        var label = KubernetesNames.Dns1035Label(name);

        Assert.True(KubernetesNames.IsDns1035Label(label), label);
        Assert.StartsWith(expectedStart, label, StringComparison.Ordinal);
    }
}
