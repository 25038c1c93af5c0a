"""Tests of the ``rec_gym`` package (simulator and Gymnasium environments)."""
