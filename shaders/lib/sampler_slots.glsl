// Drawn once per context before the first program that reads a buffer texture (see
// ProgramCache.settle_sampler_slots): it gives each of the first 8 sampler slots the sampler state
// every tensor texture has (nearest, clamp to edge).  Buffer textures carry no sampler state, and
// llvmpipe keys shader variants on the state a slot last held, so without this a program's variant
// would depend on which program happened to draw before it.  textureSize() is enough to bind the
// state and is much cheaper for the driver to compile than a fetch.
#version 330
uniform sampler2D S0; uniform sampler2D S1; uniform sampler2D S2; uniform sampler2D S3;
uniform sampler2D S4; uniform sampler2D S5; uniform sampler2D S6; uniform sampler2D S7;
out vec4 result;
void main() {
    ivec2 t = textureSize(S0, 0) + textureSize(S1, 0) + textureSize(S2, 0) + textureSize(S3, 0)
            + textureSize(S4, 0) + textureSize(S5, 0) + textureSize(S6, 0) + textureSize(S7, 0);
    result = vec4(t, 0.0, 0.0);
}
