// Drawn once per context before any program that reads a buffer texture (see
// ProgramCache.settle_sampler_slots): it gives each of the first 16 sampler slots the sampler
// state every tensor texture has (nearest, clamp to edge).  Buffer textures carry no sampler
// state, and llvmpipe keys shader variants on whatever state a slot last held, so without this
// a program's variant would depend on which program drew before it.
#version 330
uniform sampler2D S0;  uniform sampler2D S1;  uniform sampler2D S2;  uniform sampler2D S3;
uniform sampler2D S4;  uniform sampler2D S5;  uniform sampler2D S6;  uniform sampler2D S7;
uniform sampler2D S8;  uniform sampler2D S9;  uniform sampler2D S10; uniform sampler2D S11;
uniform sampler2D S12; uniform sampler2D S13; uniform sampler2D S14; uniform sampler2D S15;
out vec4 result;
void main() {
    ivec2 p = ivec2(0);
    result = texelFetch(S0, p, 0) + texelFetch(S1, p, 0) + texelFetch(S2, p, 0) + texelFetch(S3, p, 0)
           + texelFetch(S4, p, 0) + texelFetch(S5, p, 0) + texelFetch(S6, p, 0) + texelFetch(S7, p, 0)
           + texelFetch(S8, p, 0) + texelFetch(S9, p, 0) + texelFetch(S10, p, 0) + texelFetch(S11, p, 0)
           + texelFetch(S12, p, 0) + texelFetch(S13, p, 0) + texelFetch(S14, p, 0) + texelFetch(S15, p, 0);
}
