"""GLSL sources of the GL backend, shipped as package data.

``lib/`` holds the prelude and the templates the program builder renders per
input and output (gpu_backend/shader.py); ``kernels/`` holds one file per kernel
family.  Files may be split into named sections with ``//@section NAME`` lines
so a program includes only the code it uses.
"""
